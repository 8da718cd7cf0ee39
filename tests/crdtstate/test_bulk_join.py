"""`Crdt.join` of many deltas (what a push ships for many buffered groups) equals the fold
of pairwise merges and changes none of them (the buffer relies on both).

The deltas come from random runs of three replicas on a set and on maps (plain values,
nested sets and counters), removals and whole-state merges included, so the lists mix adds,
removals, overwrites and states that already joined each other's.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate import AWSet, ORMap, PNCounter
from crdtstate.types.causal import CausalCrdt

REPLICAS = ("a", "b", "c")
KINDS: tuple[type[CausalCrdt], ...] = (
    AWSet,
    ORMap[str, int],
    ORMap[str, AWSet],
    ORMap[str, PNCounter],
)

steps = st.lists(
    st.tuples(
        st.sampled_from(REPLICAS),
        st.sampled_from(["add", "add", "remove", "clear", "merge", "snapshot"]),
        st.integers(min_value=0, max_value=4),
    ),
    max_size=30,
)


def mutate(state: Any, op: str, n: int, replica: str) -> Any:
    """One mutator on `state` (a set, or a map of ints or of sets); its delta."""
    if isinstance(state, AWSet):
        if op == "add":
            return state.add(n, replica=replica)
        return state.remove(n, replica=replica) if op == "remove" else state.clear(replica=replica)
    key = f"k{n % 3}"
    if op == "remove":
        return state.remove(key, replica=replica)
    if op == "clear":
        return state.clear(replica=replica)
    if state.value_cls is not None and issubclass(state.value_cls, AWSet):
        return state.apply(key, lambda s: s.add(n, replica=replica))
    if state.value_kind is PNCounter:
        return state.apply(key, lambda c: c.increment(n - 2, replica=replica))
    return state.apply(key, lambda r: r.assign(n, replica=replica))


def pairwise(parts: list[CausalCrdt]) -> CausalCrdt:
    joined = parts[0].copy()
    for part in parts[1:]:
        joined.merge(part)
    return joined


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.sampled_from(KINDS), steps, st.randoms(use_true_random=False))
def test_join_of_many_is_the_fold_of_pairwise_joins(kind: type, run: list, rng: Any) -> None:
    replicas = {r: kind() for r in REPLICAS}
    parts: list[CausalCrdt] = []
    for replica, op, n in run:
        state = replicas[replica]
        if op == "merge":
            state.merge(replicas[REPLICAS[(REPLICAS.index(replica) + 1) % 3]].copy())
        elif op == "snapshot":
            parts.append(state.copy())
        else:
            parts.append(mutate(state, op, n, replica))
    if not parts:
        return
    rng.shuffle(parts)
    before = [part.copy() for part in parts]
    joined = kind.join(parts)
    assert joined == pairwise(parts)
    assert joined.context == pairwise(parts).context
    assert parts == before  # no delta was changed
    assert joined.value == pairwise(parts).value


def test_join_of_many_drops_what_a_later_delta_removed() -> None:
    s = AWSet()
    add = s.add(1, replica="a")
    other = s.add(2, replica="a")
    removal = s.remove(1, replica="a")
    assert AWSet.join([add, other, removal]).value == {2}
    assert AWSet.join([removal, add, other]).value == {2}


def test_nested_values_share_the_joined_context() -> None:
    m = ORMap[str, AWSet]()
    parts = [m.apply("k", lambda s, i=i: s.add(i, replica="a")) for i in range(3)]
    joined = ORMap[str, AWSet].join(parts)
    value = joined.get("k")
    assert value is not None and value.context is joined.context
