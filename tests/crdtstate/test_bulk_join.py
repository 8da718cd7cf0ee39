"""`Crdt.join` of many deltas (what a push ships for many buffered groups) equals the fold
of pairwise merges and changes none of them (the buffer relies on both).

The deltas come from random runs of three replicas on sets, flags, registers, counters and
maps (plain values, nested sets, counters and maps), removals and whole-state merges included,
so the lists mix adds, removals, overwrites and states that already joined each other's. Most
kinds take the one-pass join (`crdtstate.types.bulkjoin`), which must give the same state,
class and bytes as the pairwise fold; nested maps fall back to the fold.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate import AWSet, DWFlag, EWFlag, LWWRegister, MVRegister, ORMap, PNCounter, RWSet, codec
from crdtstate.types import CausalCounter
from crdtstate.types.bulkjoin import join_many
from crdtstate.types.causal import CausalCrdt
from crdtstate.types.clocks import CausalContext, Dot
from crdtstate.types.kernel import DotFun
from crdtstate.types.mapstore import MapStore

REPLICAS = ("a", "b", "c")
KINDS: tuple[type[CausalCrdt], ...] = (
    AWSet,
    RWSet,
    EWFlag,
    DWFlag,
    MVRegister,
    LWWRegister,
    CausalCounter,
    ORMap[str, int],
    ORMap[str, AWSet],
    ORMap[str, PNCounter],
    ORMap[str, ORMap[str, int]],
)
NESTED_MAP = ORMap[str, ORMap[str, int]]  # the one kind the one-pass join leaves to the fold

steps = st.lists(
    st.tuples(
        st.sampled_from(REPLICAS),
        st.sampled_from(["add", "add", "remove", "clear", "merge", "snapshot"]),
        st.integers(min_value=0, max_value=4),
    ),
    max_size=30,
)


def mutate(state: Any, op: str, n: int, replica: str) -> Any:
    """One mutator on `state`; its delta."""
    if isinstance(state, EWFlag | DWFlag):
        return state.enable(replica=replica) if op == "add" else state.disable(replica=replica)
    if isinstance(state, MVRegister | LWWRegister):
        return state.assign(n, replica=replica)
    if isinstance(state, CausalCounter):
        if op == "add":
            return state.increment(n, replica=replica)
        return state.decrement(n, replica=replica)
    if isinstance(state, RWSet):
        if op == "add":
            return state.add(n, replica=replica)
        return state.remove(n, replica=replica) if op == "remove" else state.clear(replica=replica)
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
    if state.value_cls is not None and issubclass(state.value_cls, ORMap):
        inner = f"i{n % 2}"
        return state.apply(key, lambda m: m.apply(inner, lambda r: r.assign(n, replica=replica)))
    if n % 2:  # a put's lazy delta (`putdelta`) half the time
        return state.put(key, n, replica=replica)
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
    folded = pairwise(parts)
    assert joined == folded
    assert joined.context == folded.context
    assert parts == before  # no delta was changed
    assert joined.value == folded.value
    assert type(joined) is type(folded)
    assert codec.encode(joined) == codec.encode(folded)  # the same bytes on the wire
    if len(parts) > 2:  # the one-pass join was taken (not the fold it is checked against)
        assert (join_many(parts) is None) is (kind is NESTED_MAP)


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


def test_map_values_keep_the_class_the_fold_gives_them() -> None:
    m = ORMap[str, PNCounter]()
    parts = [m.apply(f"k{i % 2}", lambda c, i=i: c.increment(i + 1, replica="a")) for i in range(4)]
    joined = ORMap[str, PNCounter].join(parts)
    folded = pairwise(parts)
    assert {k: type(v) for k, v in joined.store.entries.items()} == {
        k: type(v) for k, v in folded.store.entries.items()
    }
    assert all(v.context is joined.context for v in joined.store.entries.values())


def _register_map(key: str, dot: Dot, context: list[Dot]) -> Any:
    """A hand-built map delta holding one register write at `dot` under `key`."""
    ctx = CausalContext.of(context)
    store = MapStore(LWWRegister)
    store.put(key, LWWRegister(DotFun({dot: (0, "a", 1)}), ctx))
    return ORMap(store, ctx)


def test_a_dot_under_two_keys_is_left_to_the_fold() -> None:
    """No replica makes such deltas (a dot is born under one key); a peer could. The fold
    checks removals key by key, so the one-pass join declines and the result is the fold's."""
    d = Dot("a", 1)
    parts = [
        _register_map("x", d, [d]),
        _register_map("y", d, [d]),
        _register_map("z", Dot("a", 2), [Dot("a", 2)]),
    ]
    assert join_many(parts) is None
    assert ORMap.join(parts) == pairwise(parts)


def test_a_removal_in_a_large_context_is_found_from_the_candidates() -> None:
    """A delta whose context is larger than all the stores' dots (a state's, say) is checked
    dot by dot against the candidates instead of enumerating its context."""
    s = AWSet()
    adds = [s.add(i, replica="a") for i in range(5)]
    big = AWSet()
    big.merge(s.copy())
    big.remove(2, replica="a")
    for i in range(100):
        big.add(1000 + i, replica="a")
        big.remove(1000 + i, replica="a")
    parts = [*adds, big.copy()]
    assert big.context.dot_count() > sum(p.store.dot_total() for p in parts)
    joined = AWSet.join(parts)
    assert joined == pairwise(parts)
    assert 2 not in joined.value and 3 in joined.value
