"""The delta buffer is bounded in groups, not only in bytes: past `max_groups` the oldest half
is folded into one group holding their join (crdtstate/buffer.py).

With no peer acknowledging, memory is the groups' Python objects far more than their encoded
bytes; a fold keeps what every group said (collect from any point still brings a peer up to
date) in a fraction of the memory. Convergence with folds and drops under every fault is the
simulator's property test (tests/simulations/test_convergence.py samples tiny `max_groups`).
"""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate.buffer import MIXED_ORIGIN, DeltaBuffer, encoded_size
from crdtstate.types import ORMap

Op = tuple[str, int, bool]  # (replica, key, put?)


def run(ops: list[Op], buffer: DeltaBuffer) -> tuple[ORMap, list[ORMap]]:
    """Apply `ops` to one map, buffering each delta as a group from its replica."""
    state, deltas = ORMap(), []
    for replica, key, put in ops:
        if put:
            delta = state.apply(f"k{key}", lambda reg, r=replica, v=key: reg.assign(v, replica=r))
        else:
            delta = state.remove(f"k{key}", replica=replica)
        deltas.append(delta.copy())
        buffer.append(replica, {"m": delta})
    return state, deltas


def joined(deltas: list[ORMap]) -> ORMap:
    out = ORMap()
    for d in deltas:
        out.merge(d.copy())
    return out


ops = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 6), st.booleans()), max_size=60
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(ops=ops, max_groups=st.integers(2, 9), after=st.integers(0, 60))
def test_a_peer_at_any_point_is_brought_up_to_date_from_a_folded_buffer(
    ops: list[Op], max_groups: int, after: int
) -> None:
    buffer = DeltaBuffer(max_groups=max_groups)
    state, deltas = run(ops, buffer)
    assert len(buffer) <= max_groups
    assert buffer.can_serve(0)  # folding drops nothing
    after = min(after, len(deltas))
    peer = joined(deltas[:after])  # a peer that acknowledged `after`
    collected = buffer.collect(after).get("m")
    if collected is not None:
        peer.merge(collected)
    assert peer == state
    # Only what comes after `after` (or a fold reaching past it) is collected.
    assert all(g.sequence > after for g in buffer.groups_after(after))
    if after == len(deltas):
        assert collected is None


def test_a_fold_keeps_one_origin_or_none() -> None:
    buffer = DeltaBuffer(max_groups=4)
    run([("a", i, True) for i in range(5)], buffer)
    assert buffer.folds == 1 and buffer.groups_after(0)[0].origin == "a"
    assert buffer.collect(0, exclude_origin="a") == {}  # BP still leaves a's groups out
    run([("b", 9, True)] * 6, buffer)  # folded in with a's
    assert buffer.groups_after(0)[0].origin == MIXED_ORIGIN
    assert "m" in buffer.collect(0, exclude_origin="a")


def test_a_mark_on_a_folded_sequence_does_not_hide_the_fold() -> None:
    """Marks (groups the peer holds) name single groups: a fold covering a marked sequence
    still holds the others, so it is sent."""
    buffer = DeltaBuffer(max_groups=4)
    state, _ = run([("a", i, True) for i in range(5)], buffer)
    fold = buffer.groups_after(0)[0]
    assert fold.folded
    assert buffer.collect(0, held={fold.sequence})["m"] == state


def test_the_byte_bound_drops_the_fold_first_and_says_so() -> None:
    buffer = DeltaBuffer(max_groups=4, max_bytes=400)
    run([("a", i, True) for i in range(40)], buffer)
    assert buffer.bytes <= 400
    assert buffer.dropped_for_bound > 0 and not buffer.can_serve(0)


@pytest.mark.parametrize("max_groups", [2, 3])
def test_max_groups_below_two_is_refused_and_two_works(max_groups: int) -> None:
    buffer = DeltaBuffer(max_groups=max_groups)
    run([("a", i, True) for i in range(10)], buffer)
    assert len(buffer) <= max_groups
    with pytest.raises(ValueError):
        DeltaBuffer(max_groups=1)


def buffer_memory(max_groups: int | None, updates: int) -> int:
    """Bytes the buffer's groups hold (traced memory freed by dropping them all)."""
    buffer = DeltaBuffer(max_groups=max_groups)
    tracemalloc.start()
    try:
        run([("a", i % 200, True) for i in range(updates)], buffer)
        held = tracemalloc.get_traced_memory()[0]
        buffer.discard_through(buffer.sequence)
        return held - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_folding_bounds_the_memory_of_many_small_groups() -> None:
    """5,000 puts on 200 keys with no peer: unfolded, memory grows with the puts; folded,
    with the keys (the measured figures: `python -m simulations.bench_buffer`)."""
    unfolded = buffer_memory(None, 5_000)
    folded = buffer_memory(64, 5_000)
    assert folded * 5 < unfolded
    assert buffer_memory(64, 10_000) < 2 * folded  # twice the puts, not twice the memory


def test_folding_never_changes_a_delta_it_was_given() -> None:
    """Folds join into their own copies: the deltas appended (which a container or a session
    may still hold) stay as they were, also for an object a previous fold lacked."""
    buffer = DeltaBuffer(max_groups=3)
    given: list[tuple[ORMap, ORMap]] = []
    m, n = ORMap(), ORMap()
    for i in range(30):
        state, name = (m, "m") if i < 10 or i % 2 else (n, "n")
        delta = state.apply(f"k{i % 4}", lambda reg, v=i: reg.assign(v, replica="a"))
        given.append((delta, delta.copy()))
        buffer.append("a", {name: delta})
    assert buffer.folds > 5
    assert all(delta == saved for delta, saved in given)
    collected = buffer.collect(0)
    assert collected["m"] == m and collected["n"] == n


def test_a_group_too_big_to_fold_is_dropped_not_joined() -> None:
    """A bulk load is one group as big as the state; joining it into a fold would make the
    update that triggers the fold cost O(state). Past `max_bytes / max_groups` the oldest
    such group is dropped instead (a peer that still needs it resyncs by digests)."""
    bulk = ORMap()
    for i in range(200):
        bulk.merge(bulk.apply(f"bulk{i}", lambda reg, v=i: reg.assign(v, replica="a")))
    size = encoded_size({"bulk": bulk})
    buffer = DeltaBuffer(max_groups=4, max_bytes=2 * size)  # the fold limit: size / 2
    buffer.append("a", {"bulk": bulk})
    assert buffer.can_serve(0)  # within the byte bound
    state, _ = run([("a", i, True) for i in range(6)], buffer)
    assert buffer.dropped_for_bound == 1 and not buffer.can_serve(0) and buffer.can_serve(1)
    assert buffer.folds >= 1  # the small groups after it still fold
    assert "bulk" not in buffer.collect(0) and buffer.collect(1)["m"] == state


def test_a_fold_is_measured_as_its_join_and_the_previous_fold_is_not_encoded_again() -> None:
    """Under overload no ack comes for a while and the buffer folds; measuring every group
    it folds encoded each update once more. A fold's size is the previous fold's plus the
    encoded join of the other groups: for increments of one counter, one counter's size."""
    from crdtstate.types import GCounter

    buffer = DeltaBuffer(max_groups=4)
    one = encoded_size({"hits": GCounter({"a": 1})})
    for n in range(1, 6):  # the fifth folds the oldest two
        buffer.append("a", {"hits": GCounter({"a": n})}, deferred=True)
    first = buffer.groups_after(0)[0]
    assert first.folded and first.size == one  # not 2 * one: their join is one counter
    assert [g.size for g in buffer.groups_after(0)[1:]] == [None] * 3  # never measured
    for n in range(6, 8):  # each folds the fold and the group after it
        buffer.append("a", {"hits": GCounter({"a": n})}, deferred=True)
        fold = buffer.groups_after(0)[0]
        assert fold.folded and fold.sequence == n - 3
        assert fold.size == (n - 4) * one  # the previous fold's size + the new group's
        assert fold.deltas["hits"] == GCounter({"a": n - 3})
    rest = buffer.groups_after(0)[1:]
    assert buffer.bytes == fold.size + sum(encoded_size(g.deltas) for g in rest)
