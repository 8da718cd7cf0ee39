"""The compact run form of causal contexts on the wire: backwards compatible and bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdtstate import codec, wire
from crdtstate.clocks import CausalContext, Dot
from crdtstate.errors import DecodeError

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


def test_a_context_without_runs_keeps_the_old_two_item_form() -> None:
    ctx = CausalContext({"a": 3}, [Dot("a", 5), Dot("b", 9)])
    assert ctx.to_wire() == [{"a": 3}, [["a", 5], ["b", 9]]]


def test_the_old_form_with_consecutive_cloud_dots_still_decodes() -> None:
    old = [{"a": 1}, [["a", 3], ["a", 4], ["a", 5]]]
    assert wire.causal_context(old) == CausalContext({"a": 1}, [Dot("a", c) for c in (3, 4, 5)])


def test_runs_are_much_smaller_than_dot_pairs() -> None:
    ctx = CausalContext.of(Dot("replica-1", c) for c in range(1001, 6001))
    assert len(codec.pack(ctx.to_wire())) < 40


@pytest.mark.parametrize(
    "bad",
    [
        [{}, [], {"a": [1]}],  # odd length
        [{}, [], {"a": [5, 5]}],  # a run of one
        [{}, [], {"a": [7, 3]}],  # backwards
        [{}, [], {"a": [1, 2**40]}],  # a run too large to expand
        [{}, [], {"a": [0, 3]}],  # counters start at 1
        [{}, [], {"": [1, 3]}],  # empty replica id
        [{}, [], {}, {}],  # too many parts
    ],
)
def test_malformed_runs_raise_decode_error(bad: object) -> None:
    with pytest.raises(DecodeError):
        wire.causal_context(bad)
