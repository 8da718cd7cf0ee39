"""The range form of causal contexts on the wire: canonical, compact, and cheap however large."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdtstate import codec
from crdtstate.errors import DecodeError
from crdtstate.types import wire
from crdtstate.types.clocks import CausalContext, Dot

contexts = st.builds(
    CausalContext,
    st.dictionaries(st.sampled_from("abc"), st.integers(0, 20)),
    st.lists(st.builds(Dot, st.sampled_from("abc"), st.integers(1, 60))),
)


@given(contexts)
def test_every_context_round_trips_and_encodes_canonically(ctx: CausalContext) -> None:
    encoded = ctx.to_wire()
    assert wire.causal_context(encoded) == ctx
    assert codec.pack(wire.causal_context(encoded).to_wire()) == codec.pack(encoded)


def test_out_of_order_dots_travel_as_ranges_above_the_prefix() -> None:
    ctx = CausalContext({"a": 3}, [Dot("a", 5), Dot("a", 6), Dot("b", 9)])
    assert ctx.to_wire() == [{"a": 3}, [["a", 5, 6], ["b", 9, 9]]]


def test_a_huge_claimed_range_costs_no_more_than_a_small_one() -> None:
    """A 30-byte context claiming 2**62 dots decodes, joins and subtracts in O(ranges)."""
    claim = wire.causal_context([{}, [["x", 2, 2**62]]])
    ours = CausalContext({"x": 5})
    assert claim.minus(ours).dot_count() == 2**62 - 5
    assert not ours.covers(claim)
    ours.merge(claim)
    assert ours.vector == {"x": 2**62}


def test_runs_are_much_smaller_than_dot_pairs() -> None:
    ctx = CausalContext.of(Dot("replica-1", c) for c in range(1001, 6001))
    assert len(codec.pack(ctx.to_wire())) < 40


@pytest.mark.parametrize(
    "bad",
    [
        [{}, [["a", 1]]],  # a range needs first and last
        [{}, [["a", 7, 3]]],  # backwards
        [{}, [["a", 0, 3]]],  # counters start at 1
        [{}, [["", 1, 3]]],  # empty replica id
        [{}, [["a", 1, 2**63]]],  # beyond a 64-bit counter
        [{}, [], {}],  # too many parts
    ],
)
def test_malformed_ranges_raise_decode_error(bad: object) -> None:
    with pytest.raises(DecodeError):
        wire.causal_context(bad)
