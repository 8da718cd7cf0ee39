"""Every type, nested ORMaps included, is a join-semilattice whose deltas and digests behave
(DESIGN §7): the lattice laws, mutator = state joined with its delta, convergence under any
order and duplication of deltas, lossless compaction, sufficient `delta_since`, and an RR step
(`novel`) that keeps exactly what a delta adds."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate import codec
from crdtstate.clocks import CausalContext, Dot
from crdtstate.types import Crdt
from crdtstate.types.causal import CausalCrdt

from .type_scenarios import KINDS, REPLICAS, Kind, histories, joined

LAWS = settings(max_examples=40, deadline=None)
each_kind = pytest.mark.parametrize("kind", KINDS, ids=repr)


def three(data: st.DataObject, kind: Kind) -> list[Crdt]:
    """Three reachable states (of replicas that may or may not have synced)."""
    return data.draw(histories(kind)).states


@each_kind
@LAWS
@given(data=st.data())
def test_join_is_commutative_associative_idempotent_with_bottom_identity(
    kind: Kind, data: st.DataObject
) -> None:
    x, y, z = three(data, kind)
    assert joined(x, y) == joined(y, x)
    assert joined(joined(x, y), z) == joined(x, joined(y, z))
    assert joined(x, x) == x
    bottom = kind.cls()
    assert bottom.is_bottom()
    assert joined(x, bottom) == x
    assert joined(bottom, x) == x
    grown = x.copy()
    assert grown.merge(x.copy()) is False  # "changed" is honest
    if joined(x, y) != x:
        assert grown.merge(y.copy()) is True


@each_kind
@LAWS
@given(data=st.data())
def test_a_mutator_equals_the_state_joined_with_its_delta(kind: Kind, data: st.DataObject) -> None:
    x = three(data, kind)[0]
    before = x.copy()
    delta = data.draw(kind.ops)(x, data.draw(st.sampled_from(REPLICAS)))
    assert joined(before, delta) == x
    # A delta is a state like any other: it survives the wire unchanged.
    assert codec.decode(codec.encode(delta)) == delta


@each_kind
@LAWS
@given(data=st.data())
def test_deltas_in_any_order_and_multiplicity_converge(kind: Kind, data: st.DataObject) -> None:
    history = data.draw(histories(kind))
    everything = joined(*history.states)
    repeats = (
        st.lists(st.sampled_from(history.deltas), max_size=20) if history.deltas else st.just([])
    )
    shuffled = data.draw(st.permutations(history.deltas + data.draw(repeats)))
    state = kind.cls()
    for delta in shuffled:
        state.merge(delta.copy())
    assert state == everything
    assert state.value == everything.value


@each_kind
@LAWS
@given(data=st.data())
def test_the_join_a_push_ships_holds_every_delta_and_changes_none(
    kind: Kind, data: st.DataObject
) -> None:
    """`cls.join(deltas)` (what one push ships for several groups) merged into any state is
    that state merged with each delta; the buffered deltas themselves are left unchanged."""
    history = data.draw(histories(kind))
    if not history.deltas:
        return
    picked = data.draw(st.lists(st.sampled_from(history.deltas), min_size=1, max_size=8))
    before = [codec.encode(delta) for delta in picked]
    push = kind.cls.join(picked)
    for state in (kind.cls(), *history.states):
        one_by_one = state.copy()
        for delta in picked:
            one_by_one.merge(delta.copy())
        assert joined(state, push) == one_by_one
    assert [codec.encode(delta) for delta in picked] == before


@each_kind
@LAWS
@given(data=st.data())
def test_compaction_loses_no_dot_and_store_dots_stay_in_context(
    kind: Kind, data: st.DataObject
) -> None:
    history = data.draw(histories(kind))
    state = joined(*history.states)
    if not isinstance(state, CausalCrdt):
        return  # counters carry no context: their entries are the whole state
    expected: set[Dot] = set()
    for delta in history.deltas:
        expected |= set(delta.context.dots())
    ctx = state.context
    assert set(ctx.dots()) == expected
    for replica, ranges in ctx.cloud.items():
        # Compact: ranges are non-empty, sorted, apart, and strictly above prefix + 1.
        assert ranges
        assert ranges[0][0] > ctx.vector.get(replica, 0) + 1
        assert all(lo <= hi for lo, hi in ranges)
        assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))
    assert all(ctx.contains(d) for d in state.store.dots())
    rebuilt = CausalContext.of(expected)
    assert rebuilt == ctx


@each_kind
@LAWS
@given(data=st.data())
def test_delta_since_brings_a_peer_up_to_date_and_is_bottom_when_it_is(
    kind: Kind, data: st.DataObject
) -> None:
    x, y, _ = three(data, kind)
    wired = codec.unpack(codec.pack(kind.cls.digest_to_wire(y.digest())))
    digest = codec.digest_from_wire(kind.cls.kind, wired)
    delta = x.delta_since(digest)
    assert joined(y, delta) == joined(x, y)
    up_to_date = joined(x, y)
    assert x.delta_since(up_to_date.digest()).is_bottom()
    assert x.delta_since(x.digest()).is_bottom()


@each_kind
@LAWS
@given(data=st.data())
def test_novel_keeps_exactly_what_a_delta_adds(kind: Kind, data: st.DataObject) -> None:
    history = data.draw(histories(kind))
    y = history.states[0]
    candidates = history.deltas + history.states[1:]
    incoming = data.draw(st.sampled_from(candidates)) if candidates else kind.cls()
    part = y.novel(incoming)
    if part is None:
        assert joined(y, incoming) == y
    else:
        assert not part.is_bottom()
        assert joined(y, part) == joined(y, incoming)
        assert y.novel(part.copy()) is not None or joined(y, part) == y
        assert joined(y, incoming).novel(incoming) is None


@each_kind
@LAWS
@given(data=st.data())
def test_every_state_round_trips_through_the_codec_byte_for_byte(
    kind: Kind, data: st.DataObject
) -> None:
    for state in three(data, kind):
        encoded = codec.encode(state)
        decoded = codec.decode(encoded, kind.cls)
        assert type(decoded) is kind.cls
        assert decoded == state
        assert decoded.value == state.value
        assert codec.encode(decoded) == encoded
        assert codec.encode(state.copy()) == encoded
