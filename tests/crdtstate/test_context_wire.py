"""The range form of causal contexts on the wire: canonical, compact, and cheap however large."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdtstate import codec
from crdtstate.errors import DecodeError
from crdtstate.types import wire, writers
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


raw_items = st.one_of(
    st.integers(min_value=-2, max_value=2**64),
    st.sampled_from([0, 1, 2, 3, 7, 8, wire.MAX_COUNTER, wire.MAX_COUNTER + 1]),
    st.booleans(),
    st.text(alphabet="ab", max_size=1),
    st.floats(allow_nan=False),
    st.none(),
)
raw_dots = st.one_of(
    st.tuples(st.integers(-1, 3), st.integers(0, 9)).map(list),  # mostly well formed
    st.lists(raw_items, max_size=3),
    raw_items,
)


@given(st.lists(raw_dots, max_size=12))
def test_claiming_a_dot_inline_is_reading_it_and_checking_it(raws: list) -> None:
    """`DotClaims.claim` reads the common [index, counter] inline: for any input (good,
    repeated, outside the context, malformed) it gives the dot or the `DecodeError` that
    reading it through `read` and checking it against the context and the dots claimed
    before gives."""
    ctx = CausalContext({"a": 3}, [Dot("b", 7), Dot("b", 8)])
    fast = writers.DotClaims(ctx, ["a", "b"])
    slow = writers.DotClaims(ctx, ["a", "b"])
    for raw in raws:
        try:
            got: object = fast.claim(raw)
            assert type(got) is Dot
        except DecodeError:
            got = DecodeError
        try:
            want: object = slow.read(raw)
            if want in slow.seen or not ctx.contains(want):  # type: ignore[arg-type]
                raise DecodeError("claimed twice or outside")
            slow.seen.add(want)  # type: ignore[arg-type]
        except DecodeError:
            want = DecodeError
        assert got == want
    assert fast.seen == slow.seen
