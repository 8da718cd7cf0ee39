"""The check that a replica is behind its own writes (`crdtstate.own_writes`), and what a
replica does when it trips: the group is refused whole, the replica turns stale, local updates
raise, reads go on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdtstate import (
    AWSet,
    BoundedCounter,
    GCounter,
    InvalidArgumentError,
    ORMap,
    PNCounter,
    ProtocolError,
    Replica,
    StaleReplicaError,
)
from crdtstate.own_writes import check_own_writes, writes_ahead
from crdtstate.types import Crdt

W = "w"


def test_causal_ahead_on_the_writer_only() -> None:
    ours = AWSet.of(["x"], replica=W)
    theirs = ours.copy()
    delta = theirs.add("y", replica=W)
    assert writes_ahead(ours, delta, W) == ("dot counter", 2, 1)
    assert writes_ahead(ours, theirs, W) == ("dot counter", 2, 1)
    assert writes_ahead(ours, delta, "other") is None
    assert writes_ahead(None, delta, W) == ("dot counter", 2, 0)  # the object is new here
    ours.merge(delta)
    assert writes_ahead(ours, delta, W) is None


def test_causal_others_dots_never_trip() -> None:
    ours = AWSet.of(["x"], replica=W)
    theirs = ours.copy()
    delta = theirs.add("y", replica="p")
    delta.merge(theirs.remove("x", replica="p"))  # a removal carries our dot as context
    assert writes_ahead(ours, delta, W) is None


def test_nested_map_values_share_the_maps_context() -> None:
    ours = ORMap[str, PNCounter]()
    ours.apply("k", lambda c: c.increment(1, replica=W))
    theirs = ours.copy()
    delta = theirs.apply("k", lambda c: c.increment(1, replica=W))
    assert writes_ahead(ours, delta, W) == ("dot counter", 2, 1)


def test_counter_entries() -> None:
    ours = GCounter({W: 3, "p": 9})
    assert writes_ahead(ours, GCounter({W: 5}), W) == ("counter entry", 5, 3)
    assert writes_ahead(ours, GCounter({W: 3, "p": 20}), W) is None
    pn = PNCounter()
    pn.increment(4, replica=W)
    pn.decrement(2, replica=W)
    assert writes_ahead(pn, PNCounter(n=GCounter({W: 3})), W) == ("decrement entry", 3, 2)
    assert writes_ahead(pn, PNCounter(p=GCounter({W: 5})), W) == ("increment entry", 5, 4)
    # an increment entry above our decrement entry is no sign: the entries are compared apart
    assert writes_ahead(pn, PNCounter(p=GCounter({W: 4}), n=GCounter({W: 1})), W) is None


def test_bounded_counter_entries_within_an_epoch() -> None:
    ours = BoundedCounter()
    ours.mint(10, replica=W)
    ours.spend(2, replica=W)
    assert writes_ahead(ours, BoundedCounter(spent={W: 3}), W) == ("spent entry", 3, 2)
    assert writes_ahead(ours, BoundedCounter(moved={(W, "p"): 1}), W) == (
        "transfer entry to 'p'",
        1,
        0,
    )
    assert writes_ahead(ours, BoundedCounter(moved={("p", W): 5}), W) is None
    assert writes_ahead(ours, BoundedCounter(1, minted={W: 1}), W) == ("minted entry", 1, 0)
    ours.advance(2)
    assert writes_ahead(ours, BoundedCounter(1, minted={W: 99}), W) is None  # an older epoch


def test_a_kind_conflict_is_left_to_the_kind_check() -> None:
    assert writes_ahead(GCounter({W: 1}), AWSet.of(["x"], replica=W), W) is None


MUTATIONS = {
    "awset": (
        AWSet,
        lambda s, w, i: s.add(i % 3, replica=w) if i % 2 else s.remove(i % 3, replica=w),
    ),
    "gcounter": (GCounter, lambda c, w, i: c.increment(1 + i % 2, replica=w)),
    "pncounter": (PNCounter, lambda c, w, i: c.increment(1 - i % 3, replica=w)),
}


@given(
    kind=st.sampled_from(sorted(MUTATIONS)),
    writers=st.lists(st.sampled_from([W, "p", "q"]), min_size=1, max_size=12),
    data=st.data(),
)
def test_an_earlier_state_trips_exactly_when_the_writer_wrote_since(
    kind: str, writers: list[str], data: st.DataObject
) -> None:
    """Along one history, state i is ahead of state j < i on W's writes iff W changed its
    entries or made a dot in between; deltas and whole states say the same; never for j >= i.
    So a replica that holds all of its own writes (any state it can be in) never trips."""
    cls, mutate = MUTATIONS[kind]
    states: list[Crdt] = [cls()]
    wrote: list[bool] = []
    for i, writer in enumerate(writers):
        state = states[-1].copy()
        delta = mutate(state, writer, i)
        states.append(state)
        wrote.append(writer == W and not delta.is_bottom() and _makes_progress(delta))
    j = data.draw(st.integers(0, len(writers)))
    i = data.draw(st.integers(0, len(writers)))
    expected = j < i and any(wrote[j:i])
    earlier, later = states[j], states[i]
    assert (writes_ahead(earlier, later, W) is not None) == expected
    assert (writes_ahead(earlier, later.delta_since(earlier.digest()), W) is not None) == expected


def _makes_progress(delta: Crdt) -> bool:
    """A write that moves W's numbering: a new dot, a higher entry (a causal removal makes none)."""
    if isinstance(delta, AWSet):
        return any(d.replica == W for d in delta.store.dots())
    return True


def test_check_names_the_object_and_counters() -> None:
    with pytest.raises(StaleReplicaError) as caught:
        check_own_writes({"hits": GCounter({W: 1})}, {"hits": GCounter({W: 4})}, W, "r1")
    error = caught.value
    assert isinstance(error, ProtocolError)
    assert (error.name, error.writer, error.theirs, error.ours) == ("hits", W, 4, 1)
    assert "'hits'" in error.reason and "4" in error.reason and "'r1'" in error.reason


async def test_a_replica_refuses_the_group_turns_stale_and_keeps_serving_reads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Replica.open("r") as replica:
        hits = replica.container("hits", GCounter)
        tags = replica.container("tags", AWSet)
        await hits.update(lambda c: c.increment(2))
        await tags.update(lambda s: s.add("a"))
        digest, sequence = replica.digest(), replica.sequence
        ahead = GCounter({replica.writer: 5})
        other = AWSet.of(["from-p"], replica="p")
        with caplog.at_level(logging.ERROR), pytest.raises(StaleReplicaError) as caught:
            await replica.apply_remote({"tags": other, "hits": ahead}, origin="p")
        assert (caught.value.name, caught.value.theirs, caught.value.ours) == ("hits", 5, 2)
        assert replica.digest() == digest and replica.sequence == sequence  # nothing joined
        assert replica.own_writes.stale is caught.value
        assert any(
            r.levelno == logging.ERROR and "'hits'" in r.getMessage() and "new" in r.getMessage()
            for r in caplog.records
        )
        with pytest.raises(StaleReplicaError):
            await hits.update(lambda c: c.increment())
        with pytest.raises(StaleReplicaError):
            await tags.update(lambda s: s.add("b"))
        assert replica.digest() == digest
        assert await hits.get() == 2  # reads go on
        assert await replica.container("tags", AWSet).get() == {"a"}
        # a group that holds none of our writes is still joined
        assert await replica.apply_remote({"tags": other}, origin="p") is not None
        assert await tags.get() == {"a", "from-p"}


async def test_an_in_memory_replica_never_trips_on_its_id_reused() -> None:
    """A restarted in-memory replica writes under a fresh name: what its earlier run wrote
    (same id) comes back from peers without tripping the check."""
    async with Replica.open("r") as first:
        await first.container("hits", GCounter).update(lambda c: c.increment(3))
        earlier = first.snapshot("hits")
    async with Replica.open("r") as second:
        assert earlier is not None
        assert await second.apply_remote({"hits": earlier}, origin="p") is not None
        await second.container("hits", GCounter).update(lambda c: c.increment())
        assert (
            second.own_writes.stale is None and await second.container("hits", GCounter).get() == 4
        )


async def test_adopting_needs_a_new_id_and_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with pytest.raises(InvalidArgumentError):
        async with Replica.open("b", path, adopt_as_new_id=True):
            pass
    assert not path.exists()  # nothing was created
    async with Replica.open("a", path) as a:
        await a.container("hits", GCounter).update(lambda c: c.increment(2))
    for bad in ({"replica_id": "a"}, {"replica_id": None}):
        with pytest.raises(InvalidArgumentError):
            async with Replica.open(path=path, adopt_as_new_id=True, **bad):
                pass
    with pytest.raises(InvalidArgumentError):
        async with Replica.open("b", adopt_as_new_id=True):
            pass
    async with Replica.open("b", path, adopt_as_new_id=True) as b:
        assert (b.id, b.writer) == ("b", "b")
        hits = b.container("hits", GCounter)
        await hits.update(lambda c: c.increment())
        assert hits.local_state().counts == {"a": 2, "b": 1}  # the old writes keep their name
    async with Replica.open(path=path) as b:
        assert b.id == "b" and await b.container("hits", GCounter).get() == 3
