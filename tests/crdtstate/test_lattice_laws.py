"""The join-semilattice laws every CRDT type obeys (DESIGN §7), and the semantics of each type.

States come from random histories of replicas mutating and merging (see `strategies`), so the
laws are checked on concurrent and causally related states alike.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdtstate import AWSet, Crdt, GCounter, PNCounter, codec
from crdtstate.types.causal import CausalCrdt
from crdtstate.types.kernel import novel_context

from .strategies import (
    HISTORY_LAWS,
    KINDS,
    LAWS,
    REPLICAS,
    elements,
    histories,
    join,
    join_all,
    mutations,
    related_states,
    replica_ids,
    states,
)

by_kind = pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)


# -- the join laws ------------------------------------------------------------------------------


def pool_of(data: st.DataObject, kind: type[Crdt]) -> list[Crdt]:
    """Every state of one random history: concurrent and causally related states to combine."""
    return data.draw(histories(kind)).pool()


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_merge_is_commutative(kind: type[Crdt], data: st.DataObject) -> None:
    """x ⊔ y == y ⊔ x, for every pair of states of a history."""
    for x, y in itertools.product(pool_of(data, kind), repeat=2):
        assert join(x, y) == join(y, x), (x, y)
        assert join(x, y).value == join(y, x).value, (x, y)


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_merge_is_associative(kind: type[Crdt], data: st.DataObject) -> None:
    """(x ⊔ y) ⊔ z == x ⊔ (y ⊔ z), for every triple of the latest states of a history."""
    latest = pool_of(data, kind)[-6:]
    for x, y, z in itertools.product(latest, repeat=3):
        assert join(join(x, y), z) == join(x, join(y, z)), (x, y, z)


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_merge_is_idempotent(kind: type[Crdt], data: st.DataObject) -> None:
    """x ⊔ x == x: merging a state into (a copy of) itself changes nothing and says so."""
    for x in pool_of(data, kind):
        same = x.copy()
        assert same.merge(x.copy()) is False, x
        assert same == x
        assert join(x, x) == x


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_bottom_is_identity(kind: type[Crdt], data: st.DataObject) -> None:
    """The empty constructor is bottom: x ⊔ ⊥ == ⊥ ⊔ x == x."""
    assert kind().is_bottom()
    for x in pool_of(data, kind):
        left = x.copy()
        assert left.merge(kind()) is False, x
        assert left == x
        assert join(kind(), x) == x
        assert x.is_bottom() is (x == kind())


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_merge_reports_change(kind: type[Crdt], data: st.DataObject) -> None:
    """`merge` returns True exactly when it changed the state, for every pair of states."""
    for x, y in itertools.product(pool_of(data, kind), repeat=2):
        target = x.copy()
        changed = target.merge(y)
        assert changed is (target != x), (x, y)


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_merge_is_an_upper_bound(kind: type[Crdt], data: st.DataObject) -> None:
    """x ⊔ y is above both: joining either into it changes nothing."""
    for x, y in itertools.product(pool_of(data, kind), repeat=2):
        top = join(x, y)
        assert top.copy().merge(x) is False, (x, y)
        assert top.copy().merge(y) is False, (x, y)


@by_kind
@LAWS
@given(data=st.data())
def test_copy_is_independent(kind: type[Crdt], data: st.DataObject) -> None:
    """Mutating a copy leaves the original unchanged."""
    x, y = data.draw(related_states(kind, 2))
    before = x.copy()
    clone = x.copy()
    data.draw(mutations(clone)).apply(clone, "z")
    clone.merge(y)
    assert x == before


# -- mutators and deltas ------------------------------------------------------------------------


@by_kind
@LAWS
@given(data=st.data())
def test_mutator_equals_merging_its_delta(kind: type[Crdt], data: st.DataObject) -> None:
    """For every mutator m: m(X) in place == X.copy().merge(delta), delta being what m returned."""
    x = data.draw(states(kind))
    mutation = data.draw(mutations(x))
    replica = data.draw(replica_ids)
    expected = x.copy()
    delta = mutation.apply(x, replica)
    assert isinstance(delta, kind)
    expected.merge(delta)
    assert x == expected


@by_kind
@LAWS
@given(data=st.data())
def test_deltas_converge_in_any_order_and_multiplicity(
    kind: type[Crdt], data: st.DataObject
) -> None:
    """Any permutation, with duplicates, of a history's deltas joins to the same state,
    and that state is the join of the replicas' final states."""
    history = data.draw(histories(kind))
    deltas = history.deltas
    extras = data.draw(st.lists(st.sampled_from(deltas), max_size=6)) if deltas else []
    first = data.draw(st.permutations(deltas))
    second = data.draw(st.permutations([*deltas, *extras]))
    a, b = join_all(kind, first), join_all(kind, second)
    assert a == b
    assert a.value == b.value
    assert a == join_all(kind, list(history.replicas.values()))


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_delta_since_brings_a_peer_up_to_date(kind: type[Crdt], data: st.DataObject) -> None:
    """y ⊔ x.delta_since(y.digest()) == x ⊔ y, for every pair of states x, y of a history."""
    history = data.draw(histories(kind))
    for x, y in itertools.product(history.pool(), repeat=2):
        caught_up = y.copy()
        caught_up.merge(x.delta_since(y.digest()))
        assert caught_up == join(x, y), (x, y)


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_delta_since_is_bottom_when_peer_covers(kind: type[Crdt], data: st.DataObject) -> None:
    """When y already holds everything x has (y == x ⊔ y), x.delta_since(y.digest()) is bottom."""
    for x, y in itertools.product(pool_of(data, kind), repeat=2):
        assert x.delta_since(join(x, y).digest()).is_bottom(), (x, y)
        if join(x, y) == y:
            assert x.delta_since(y.digest()).is_bottom(), (x, y)


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_novel_keeps_what_the_delta_adds(kind: type[Crdt], data: st.DataObject) -> None:
    """y ⊔ y.novel(d) == y ⊔ d, and novel is None exactly when d adds nothing to y; for every
    state y and every delta (or state) d of a history."""
    history = data.draw(histories(kind))
    for y, d in itertools.product(history.pool(), [*history.deltas, *history.pool()]):
        expected = join(y, d)
        part = y.novel(d)
        if part is None:
            assert expected == y, (y, d)
        else:
            assert not part.is_bottom(), (y, d)
            assert join(y, part) == expected, (y, d)
            assert expected != y, (y, d)


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_novel_is_the_copying_route(kind: type[Crdt], data: st.DataObject) -> None:
    """A part that shares an all-new delta's store (`CausalCrdt.novel`) equals the part
    copied key by key (`unseen_by`), and joining it into a state leaves the delta as it was."""
    if not issubclass(kind, CausalCrdt):
        return
    history = data.draw(histories(kind))
    for y, d in itertools.product(history.pool(), [*history.deltas, *history.pool()]):
        before = codec.encode(d)
        part = y.novel(d)
        copied = type(y)(
            d.store.unseen_by(y.context), novel_context(y.store, y.context, d.store, d.context)
        )
        assert (part is None) == copied.is_bottom(), (y, d)
        if part is not None:
            assert part == copied, (y, d)
            assert codec.encode(part) == codec.encode(copied), (y, d)
            joined = y.copy()
            joined.merge(part)
            assert codec.encode(d) == before, (y, d)


# -- semantics ----------------------------------------------------------------------------------


counter_ops = st.lists(
    st.one_of(
        st.tuples(st.just("increment"), replica_ids, st.integers(min_value=0, max_value=9)),
        st.tuples(st.just("decrement"), replica_ids, st.integers(min_value=0, max_value=9)),
        st.tuples(st.just("merge"), replica_ids, replica_ids),
    ),
    max_size=25,
)


@pytest.mark.parametrize("kind", [GCounter, PNCounter], ids=lambda k: k.__name__)
@LAWS
@given(ops=counter_ops)
def test_counters_sum_what_each_replica_has_seen(
    kind: type[GCounter | PNCounter], ops: list[tuple[Any, ...]]
) -> None:
    """A counter's value is the sum of the increments (minus decrements) its replica has seen,
    directly or through merges; the join of all replicas sums every one."""
    replicas = {r: kind() for r in REPLICAS}
    seen: dict[str, set[int]] = {r: set() for r in REPLICAS}
    amounts: dict[int, int] = {}
    for i, (op, first, second) in enumerate(ops):
        if op == "merge":
            replicas[first].merge(replicas[second].copy())
            seen[first] |= seen[second]
        elif op == "decrement" and kind is GCounter:
            continue
        else:
            getattr(replicas[first], op)(second, replica=first)
            amounts[i] = second if op == "increment" else -second
            seen[first].add(i)
    for r in REPLICAS:
        assert replicas[r].value == sum(amounts[i] for i in seen[r])
    assert join(*replicas.values()).value == sum(amounts.values())


set_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), replica_ids, elements),
        st.tuples(st.just("remove"), replica_ids, elements),
        st.tuples(st.just("clear"), replica_ids, st.none()),
        st.tuples(st.just("merge"), replica_ids, replica_ids),
    ),
    max_size=25,
)


@LAWS
@given(ops=set_ops)
def test_awset_matches_observed_remove_model(ops: list[tuple[Any, ...]]) -> None:
    """AWSet against an OR-set model: an element is present when its replica has seen an add
    of it that no remove or clear it has seen had observed (so a concurrent add wins)."""
    replicas = {r: AWSet() for r in REPLICAS}
    seen: dict[str, set[int]] = {r: set() for r in REPLICAS}
    adds: dict[int, Any] = {}  # op index -> element added
    removed: dict[int, set[int]] = {}  # op index -> add ops it observed and removed

    def alive(r: str) -> set[int]:
        dead = set().union(*(removed[i] for i in seen[r] if i in removed))
        return {i for i in seen[r] if i in adds} - dead

    for i, (op, r, arg) in enumerate(ops):
        if op == "merge":
            replicas[r].merge(replicas[arg].copy())
            seen[r] |= seen[arg]
            continue
        if op == "add":
            replicas[r].add(arg, replica=r)
            adds[i] = arg
        elif op == "remove":
            replicas[r].remove(arg, replica=r)
            removed[i] = {j for j in alive(r) if adds[j] == arg}
        else:
            replicas[r].clear(replica=r)
            removed[i] = alive(r)
        seen[r].add(i)
    for r in REPLICAS:
        assert replicas[r].value == frozenset(adds[i] for i in alive(r)), r
    everything = join(*replicas.values())
    seen["all"] = set().union(*seen.values())
    assert everything.value == frozenset(adds[i] for i in alive("all"))


@LAWS
@given(elements, elements)
def test_awset_concurrent_add_and_remove_add_wins(element: Any, other: Any) -> None:
    """A remove concurrent with an add of the same element leaves it present, in either order."""
    a, b = AWSet(), AWSet()
    b.merge(a.add(element, replica="a"))  # b observes a's first add
    other_add = b.add(other, replica="b")
    remove = b.remove(element, replica="b")  # b removes what it observed...
    add = a.add(element, replica="a")  # ...while a adds it again, concurrently
    assert element not in b.value
    for x, y in ((a, b), (b, a)):
        assert element in join(x, y).value
    a.merge(other_add)
    a.merge(remove)
    b.merge(add)
    assert a == b
    assert a.value == frozenset({element, other})


@LAWS
@given(elements, st.sampled_from(["remove", "clear"]))
def test_awset_remove_after_observed_add(element: Any, how: str) -> None:
    """A remove (or clear) that observed the add wins over it on every replica."""
    a, b = AWSet(), AWSet()
    add = a.add(element, replica="a")
    b.merge(add)
    removal = b.remove(element, replica="b") if how == "remove" else b.clear(replica="b")
    assert element not in b.value
    a.merge(removal)
    assert element not in a.value
    assert a == b
    b.merge(add)  # a late duplicate of the add does not resurrect it
    assert element not in b.value


@LAWS
@given(st.lists(st.tuples(st.sampled_from(["add", "remove", "clear"]), elements), max_size=20))
def test_awset_on_one_replica_is_a_python_set(ops: list[tuple[str, Any]]) -> None:
    """Used by a single replica, an AWSet behaves exactly like a Python set."""
    state, model = AWSet(), set()
    for op, element in ops:
        if op == "clear":
            state.clear(replica="a")
            model.clear()
        else:
            getattr(state, op)(element, replica="a")
            getattr(model, "add" if op == "add" else "discard")(element)
        assert state.value == frozenset(model)
        assert all(e in state for e in model)
