"""Joins of unbuilt map put and delete deltas (`crdtstate.types.putdelta`): `join_puts`, the
n-ary join without building them, and `absorb_puts`, a buffer fold's in-place join of them.

Both must equal the general join of the same deltas, built: random histories of two replicas
putting, deleting and merging (so deltas observe one dot, several concurrent ones, or none),
and a buffer that folds them must bring a peer at any point up to date.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate import joins
from crdtstate.buffer import DeltaBuffer, FoldGroup, encoded_size
from crdtstate.joins import join_parts
from crdtstate.types import AWSet, ORMap
from crdtstate.types.clocks import CausalContext, Dot
from crdtstate.types.putdelta import (
    FlatWrites,
    absorb_puts,
    dropped_by,
    join_puts,
    materialize,
    merge_dots,
)

SAME = settings(max_examples=150, deadline=None, derandomize=True)
Step = tuple[str, str, int]  # (what, key, value)

steps = st.lists(
    st.tuples(
        st.sampled_from(["put", "put", "put", "delete", "theirs", "unput", "seen", "merge"]),
        st.sampled_from("abcde"),
        st.integers(0, 9),
    ),
    min_size=8,
    max_size=40,
)


def history(plan: list[Step]) -> tuple[ORMap, list[ORMap]]:
    """Replica a's state after `plan`, and the unbuilt deltas of its own puts and deletes;
    b writes and deletes too, has seen a's state now and then, and a merges b's now and then
    (so a's next put on a key b wrote concurrently observes two dots, and on a key where b
    overwrote or deleted a's write, none of a's)."""
    a, b = ORMap(), ORMap()
    deltas: list[ORMap] = []
    for what, key, value in plan:
        if what == "put":
            deltas.append(a.put(key, value, replica="a"))
        elif what == "delete":
            deltas.append(a.remove(key, replica="a"))
        else:
            theirs(a, b, what, key, value)
    return a, [d for d in deltas if getattr(d, "_dot", None) is not None]


def theirs(a: ORMap, b: ORMap, what: str, key: str, value: int) -> ORMap | None:
    """b's step of a plan; the state a merged, for "merge"."""
    if what == "theirs":
        b.put(key, -value, replica="b")
    elif what == "unput":
        b.remove(key, replica="b")
    elif what == "seen":
        b.merge(a.copy())
    else:
        merged = b.copy()
        a.merge(merged)
        return merged
    return None


def general_join(deltas: list[ORMap]) -> ORMap:
    """The pairwise join of built copies (reading a lazy delta builds it: call last)."""
    out = ORMap()
    for delta in deltas:
        out.merge(delta.copy())
    return out


@SAME
@given(plan=steps)
def test_join_puts_equals_the_general_join(plan: list[Step]) -> None:
    _, deltas = history(plan)
    if len(deltas) < 2:
        return
    fast = join_puts(deltas)
    assert fast is not None
    assert all(d._dot is not None for d in deltas)  # none was built
    assert fast == general_join(deltas)


@SAME
@given(
    plan=steps,
    cut=st.integers(1, 40),
    again=st.integers(0, 40),
    defer=st.booleans(),
    keep_flat=st.booleans(),
)
def test_absorbing_puts_into_a_fold_equals_the_general_join(
    plan: list[Step], cut: int, again: int, defer: bool, keep_flat: bool
) -> None:
    """Absorbed in two batches; `defer`: the context's new dots left to merge at the end, and
    `keep_flat`: the writes left out of the store until then (a buffer's fold puts both in
    when it is next read). Kept flat, a second write under one key stops the absorbing: the
    rest go to the map's join."""
    _, deltas = history(plan)
    if len(deltas) < 2:
        return
    cut = 1 + cut % (len(deltas) - 1)  # (a cut past the end ran nine examples in ten empty)
    head, rest = deltas[:cut], deltas[cut:]
    fold = join_puts(head) if len(head) > 1 else general_join(head)
    before = encoded_size({"m": fold})
    unmerged: set[Dot] | None = set() if defer else None
    flat: FlatWrites | None = {} if keep_flat else None
    first, second = rest[:again], rest[again:]
    added, stopped = 0, False
    for batch in (first, second):
        if batch and not stopped:
            absorbed = absorb_puts(fold, batch, unmerged, None, flat)
            assert absorbed is not None
            added += absorbed[0]
            if absorbed[1] < len(batch):  # only at a second write under a key kept flat
                at = batch[absorbed[1]]
                assert flat is not None and at._write is not None
                kept = flat.get(at._key)
                assert kept is not None and kept[0] not in dropped_by(at)
                stopped = True
            else:
                assert all(d._dot is not None for d in batch)
    if unmerged is not None:
        merge_dots(fold.context, unmerged)
    if flat is not None:
        materialize(fold, flat, {})
        assert not flat
    if stopped:  # the map's join takes the delta it stopped at, and the rest
        fold = general_join([fold, *rest])
        assert fold == general_join(deltas)
        return
    assert fold == general_join(deltas)
    # the count follows the fold's real encoding (overwritten writes taken off), within the
    # per-delta headers and the other replica's context ranges it estimates
    real = encoded_size({"m": fold})
    assert real / 2 - 64 <= before + added <= 2 * real + 64


@SAME
@given(plan=steps, read=st.sets(st.integers(0, 39)))
def test_a_join_of_mixed_deltas_builds_none_unbuilt(plan: list[Step], read: set[int]) -> None:
    """A push's join may start at a fold or a peer's delta, and a read built some puts:
    the unbuilt ones are joined as `join_puts` joins them, the rest merged in."""
    _, deltas = history(plan)
    for i in read & set(range(len(deltas))):
        deltas[i].copy()  # read: built
    unbuilt = [d for d in deltas if d._dot is not None]
    peer = ORMap()
    mixed = [peer.put("b", 7, replica="b").copy(), *deltas]  # a peer's (built) delta first
    joined = join_parts([{"m": d} for d in mixed])["m"]
    if len(unbuilt) > 1:
        assert all(d._dot is not None for d in unbuilt)
    assert joined == general_join(mixed)


def test_absorb_refuses_built_deltas_and_changes_nothing() -> None:
    m = ORMap()
    fold = join_puts([m.put("a", 1, replica="a"), m.put("b", 2, replica="a")])
    built = m.put("c", 3, replica="a")
    built.copy()  # read: built
    saved = fold.copy()
    assert absorb_puts(fold, [m.put("d", 4, replica="a"), built]) is None
    assert fold == saved


@SAME
@given(plan=steps, max_groups=st.integers(2, 9), after=st.integers(0, 40))
def test_a_buffer_folding_unbuilt_puts_brings_a_peer_at_any_point_up_to_date(
    plan: list[Step], max_groups: int, after: int
) -> None:
    buffer = DeltaBuffer(max_groups=max_groups)
    a, b = ORMap(), ORMap()
    given_deltas: list[ORMap] = []
    for what, key, value in plan:  # as `history`, appending as it goes (folds interleave)
        if what in ("put", "delete"):
            delta = a.put(key, value, replica="a") if what == "put" else a.remove(key, replica="a")
            given_deltas.append(delta)
            buffer.append("a", {"m": delta}, deferred=True)
        elif (merged := theirs(a, b, what, key, value)) is not None:
            given_deltas.append(merged)
            buffer.append("b", {"m": merged})
    assert len(buffer) <= max_groups and buffer.can_serve(0)
    after = min(after, len(given_deltas))
    collected = buffer.collect(after).get("m")
    peer = general_join(given_deltas[:after])
    if collected is not None:
        peer.merge(collected.copy())
    assert peer == a


def test_a_fold_of_local_puts_builds_none_of_them() -> None:
    """The fold's fast path: 400 puts on 50 keys fold many times, and no delta is built but
    by a read (the general join builds each: a dozen objects per put, for the collector to
    trace); a fold read between folds merges the dots it left aside, and folds on."""
    buffer = DeltaBuffer(max_groups=16)
    m = ORMap()
    deltas = [m.put(f"k{i % 50}", i, replica="a") for i in range(200)]
    for delta in deltas:
        buffer.append("a", {"m": delta}, deferred=True)
    assert buffer.collect(0)["m"] == m  # read between folds
    deltas += [m.put(f"k{i % 50}", i, replica="a") for i in range(200, 400)]
    for delta in deltas[200:]:
        buffer.append("a", {"m": delta}, deferred=True)
    assert buffer.folds > 20
    assert all(d._dot is not None for d in deltas[200:])  # (the read built those it joined)
    assert buffer.collect(0)["m"] == m


contexts = st.builds(
    lambda dots: CausalContext.of(Dot(r, c) for r, c in dots),
    st.lists(st.tuples(st.sampled_from("xyz"), st.integers(1, 30)), max_size=25, unique=True),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(ctx=contexts, limit=st.integers(-2, 60))
def test_has_more_dots_than_is_the_count_compared(ctx: CausalContext, limit: int) -> None:
    assert ctx.has_more_dots_than(limit) == (ctx.dot_count() > limit)


def test_a_fold_merges_the_dots_it_left_aside_before_they_grow_with_the_updates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fold's memory grows with the keys, not the updates: the dots it leaves aside for its
    context are merged once there are `MAX_UNMERGED`."""
    monkeypatch.setattr(joins, "MAX_UNMERGED", 50)
    buffer = DeltaBuffer(max_groups=16)
    m = ORMap()
    for i in range(2_000):
        buffer.append("a", {"m": m.put(f"k{i % 20}", i, replica="a")}, deferred=True)
    fold = buffer.groups_after(0)[0]
    assert isinstance(fold, FoldGroup) and buffer.folds > 100
    assert all(len(dots) <= 50 for dots in fold.ledger.unmerged.values())
    assert buffer.collect(0)["m"] == m


def test_a_folds_size_follows_its_keys_not_its_updates() -> None:
    """With no peer acknowledging, 20 keys overwritten 5,000 times: the fold's counted size
    stays about its real encoding instead of adding up every write it absorbed (it would
    have reached the byte bound and dropped the fold, making peers resync by digests)."""
    buffer = DeltaBuffer(max_groups=16)
    m = ORMap()
    sizes = []
    for i in range(5_000):
        buffer.append_local("a", "m", m.put(f"k{i % 20}", f"value {i}", replica="a"))
        if i in (999, 4_999):
            sizes.append(buffer.groups_after(0)[0].size)
    fold = buffer.groups_after(0)[0]
    assert sizes[1] < 1.2 * sizes[0]
    assert encoded_size(fold.deltas) / 2 <= fold.size <= 2 * encoded_size(fold.deltas) + 64


def test_puts_touching_a_nested_value_are_left_to_the_maps_join() -> None:
    """An undeclared map may hold a peer's nested CRDT: a local delete of it drops its dots,
    which are no register's. The fold absorbs the puts before it, and the map's own join
    takes that delete and the rest."""
    a, b = ORMap(), ORMap()
    counter = b.adopt("c", AWSet(None, b.context), lambda s: s.add("x", replica="b"))
    a.merge(counter.copy())
    buffer = DeltaBuffer(max_groups=4)
    buffer.append("b", {"m": counter})  # the peer's group
    given = [a.put("k", 1, replica="a"), a.remove("c", replica="a"), a.put("k", 2, replica="a")]
    given += [a.put(f"x{i}", i, replica="a") for i in range(8)]
    for delta in given:
        buffer.append_local("a", "m", delta)
    assert buffer.folds >= 2
    assert buffer.collect(0)["m"] == a


def test_a_second_write_under_a_key_kept_flat_is_left_to_the_maps_join() -> None:
    """a's write of k, kept flat by a fold, is deleted by b, who had seen it; a's next put of
    k then observes none of a's dots, and the fold would hold two writes under k: absorbing
    stops there, and the map's join takes that put and the rest."""
    a, b = ORMap(), ORMap()
    head = [a.put("x", 0, replica="a"), a.put("y", 0, replica="a")]
    first = a.put("k", 1, replica="a")
    b.merge(a.copy())
    b.remove("k", replica="b")
    peer = b.copy()
    a.merge(peer)
    rest = [a.put("k", 2, replica="a"), a.put("z", 3, replica="a")]
    fold, flat = join_puts(head), {}
    absorbed = absorb_puts(fold, [first, *rest], None, None, flat)
    assert absorbed is not None and absorbed[1] == 1
    assert [kept[0] for kept in flat.values()] == [first._dot]
    buffer = DeltaBuffer(max_groups=4)
    for delta in [*head, first]:
        buffer.append_local("a", "m", delta)
    buffer.append("b", {"m": peer})
    for delta in [*rest, *(a.put(f"w{i}", i, replica="a") for i in range(6))]:
        buffer.append_local("a", "m", delta)
    assert buffer.folds >= 2
    assert buffer.collect(0)["m"] == a
