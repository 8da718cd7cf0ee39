"""Causal digests carry the dots a store holds as ranges, and `delta_since` works on ranges.

The answer to a digest is exactly the one the dot-by-dot computation gave (kept below as the
reference), the digest is O(runs) bytes, a digest claiming 2**62 held dots is answered without
enumerating them, and malformed or old-form digests are refused with `DecodeError`.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdtstate import AWSet, codec
from crdtstate.errors import DecodeError
from crdtstate.types import intervals, runs, wire
from crdtstate.types.causal import CausalCrdt, CausalDigest
from crdtstate.types.clocks import CausalContext, Dot

from .strategies import LAWS
from .type_scenarios import KINDS, Kind, histories

CAUSAL_KINDS = [k for k in KINDS if issubclass(k.cls, CausalCrdt)]
each_causal_kind = pytest.mark.parametrize("kind", CAUSAL_KINDS, ids=repr)


def reference_delta_since(state: CausalCrdt, seen: CausalContext, held: frozenset[Dot]) -> Any:
    """The computation this replaced: the peer's held dots one by one."""
    context = state.context.minus(seen)
    for d in held:
        if state.context.contains(d) and not state.store.holds(d):
            context.add(d)
    return type(state)(state.store.unseen_by(seen), context)


def held_dots(digest: CausalDigest) -> frozenset[Dot]:
    return frozenset(digest.held.dots())


dot_sets = st.lists(st.builds(Dot, st.sampled_from("abcz"), st.integers(1, 30)), max_size=40)
contexts = st.builds(CausalContext, st.dictionaries(st.sampled_from("abcz"), st.integers(0, 12)))


@each_causal_kind
@LAWS
@given(data=st.data())
def test_delta_since_equals_the_dot_by_dot_answer_between_states(
    kind: Kind, data: st.DataObject
) -> None:
    states = data.draw(histories(kind)).states
    for x in states:
        for y in states:
            digest = y.digest()
            assert held_dots(digest) == frozenset(y.store.dots())
            expected = reference_delta_since(x, digest.context, held_dots(digest))
            assert x.delta_since(digest) == expected, (x, y)


@each_causal_kind
@LAWS
@given(data=st.data(), extra_seen=dot_sets, held=dot_sets, prefix=contexts)
def test_delta_since_equals_the_dot_by_dot_answer_for_any_digest(
    kind: Kind, data: st.DataObject, extra_seen: list[Dot], held: list[Dot], prefix: CausalContext
) -> None:
    """Digests no real state would send (held outside seen, gaps anywhere) agree too."""
    x = data.draw(st.sampled_from(data.draw(histories(kind)).states))
    seen = prefix.copy()
    seen.merge(CausalContext.of(extra_seen))
    held = [*held, *data.draw(st.lists(st.sampled_from([*x.store.dots()] or [Dot("a", 1)])))]
    digest = CausalDigest(seen, CausalContext.of(held))
    assert x.delta_since(digest) == reference_delta_since(x, seen, frozenset(held))


@each_causal_kind
@LAWS
@given(data=st.data())
def test_digests_round_trip_through_the_wire_canonically(kind: Kind, data: st.DataObject) -> None:
    for state in data.draw(histories(kind)).states:
        digest = state.digest()
        raw = codec.pack(kind.cls.digest_to_wire(digest))
        decoded = codec.digest_from_wire(kind.cls.kind, codec.unpack(raw))
        assert decoded == digest
        assert codec.pack(kind.cls.digest_to_wire(decoded)) == raw


@given(st.lists(st.builds(Dot, st.sampled_from(["a", "bb", "ccc"]), st.integers(1, 2**63 - 1))))
def test_any_set_of_dots_round_trips_as_runs(dots: list[Dot]) -> None:
    held = CausalContext.of(dots)
    assert runs.from_wire(codec.unpack(codec.pack(runs.to_wire(held)))) == held
    assert set(held.dots()) == set(dots)


def test_an_add_only_set_digests_to_one_run_per_replica() -> None:
    s = AWSet()
    for i in range(5000):
        s.add(i, replica=f"replica-{i % 3}")
    assert runs.to_wire(s.digest().held) == [
        [f"replica-{r}", [0, 1667 - (r == 2)]] for r in (0, 1, 2)
    ]
    assert len(codec.pack(AWSet.digest_to_wire(s.digest()))) < 100


def test_a_fragmented_set_costs_two_small_integers_per_run() -> None:
    s = AWSet()
    for i in range(1000):
        s.add(i, replica="a")
    for i in range(0, 1000, 3):
        s.remove(i, replica="a")  # holds 2..3, 5..6, ...: 333 runs with gaps of one
    runs_wire = runs.to_wire(s.digest().held)
    assert runs_wire == [["a", [1, 2] * 333]]  # (gap 1, length 2) each
    assert len(codec.pack(runs_wire)) < 2 * 333 + 10


def removed_twice() -> AWSet:
    """Dots a1..a10 added, a3 and a7 removed (removal events a11, a12)."""
    s = AWSet()
    for i in range(10):
        s.add(i, replica="a")
    s.remove(2, replica="a")
    s.remove(6, replica="a")
    return s


def test_a_digest_claiming_2_to_the_62_held_dots_is_answered_from_our_own_ranges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The peer claims to have seen and to hold a1..a(2**62): it is told of our removals."""
    ours = removed_twice()

    def refuse(*_: Any) -> Any:
        raise AssertionError("a range from the peer was enumerated")

    monkeypatch.setattr(intervals, "numbers", refuse)
    monkeypatch.setattr(CausalContext, "dots", refuse)
    claim = wire.causal_context([{"a": 2**62}, []])
    delta = ours.delta_since(CausalDigest(claim, claim.copy()))
    assert delta.store.is_empty()
    assert delta.context.ranges("a") == [(3, 3), (7, 7), (11, 12)]


def test_a_thirty_byte_hostile_digest_decodes_and_is_answered_in_o_ranges() -> None:
    raw = codec.pack([["a"], [[0, 2**62]], [[0, 2**62]]])
    assert len(raw) <= 30
    digest = codec.digest_from_wire("awset", codec.unpack(raw))
    assert digest.held.dot_count() == 2**62
    delta = removed_twice().delta_since(digest)
    assert delta.context.dot_count() == 4
    # Held dots beyond everything we have seen cost nothing either.
    empty_answer = AWSet().delta_since(digest)
    assert empty_answer.is_bottom()


WRITERS = ["a", "b"]
SEEN = [[0, 9], [0, 9]]  # a1..a9, b1..b9


@pytest.mark.parametrize(
    "digest",
    [
        [[{"a": 9, "b": 9}, []], [["a", [0, 1]]]],  # the form before writer tables
        [WRITERS, SEEN, {"a": [1, 2, 3]}],  # held dots as a map, not runs per writer
        [WRITERS, SEEN, [[0, 1, 1, 1]]],  # fewer lists than writers
        [WRITERS, SEEN, [[0, 1, 1, 1], [], []]],  # more lists than writers
        [WRITERS, SEEN, [[0, 1, 1], []]],  # an odd number of integers
        [WRITERS, SEEN, [[0, 2, 0, 2], []]],  # runs that touch (1..2, 3..4): not canonical
        [WRITERS, SEEN, [[0, 3, -2, 2], []]],  # a run that reaches back into the previous one
        [WRITERS, SEEN, [[0, 0], []]],  # an empty run
        [WRITERS, SEEN, [[0, True], []]],  # not an integer
        [WRITERS, SEEN, [[2**63 - 1, 1], []]],  # beyond the largest counter
        [WRITERS, SEEN, [[0, 10], []]],  # holds a10, which its own context has not seen
        [WRITERS, SEEN, "held"],  # not a list
        [["b", "a"], SEEN, [[], []]],  # writers out of order
        [["a", "a"], SEEN, [[], []]],  # a writer repeated
        [["", "b"], SEEN, [[], []]],  # an empty replica id
        [[1, "b"], SEEN, [[], []]],  # a writer that is no string
        [WRITERS, [[0, 9], []], [[], []]],  # a writer the context never saw
        [WRITERS, [[0, 9]], [[], []]],  # fewer context lists than writers
        [WRITERS, SEEN],  # no held part
    ],
)
def test_malformed_digests_are_refused(digest: Any) -> None:
    with pytest.raises(DecodeError):
        codec.digest_from_wire("awset", codec.unpack(codec.pack(digest)))


def test_more_runs_than_the_limit_are_refused_before_any_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wire, "MAX_CLOUD_RANGES", 5)
    ok = [[0, 1, 1, 1], [1, 1]]
    assert codec.digest_from_wire("awset", [WRITERS, SEEN, ok]).held.dot_count() == 3
    with pytest.raises(DecodeError, match="more than 5 runs"):
        codec.digest_from_wire("awset", [WRITERS, SEEN, [[0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]])
    with pytest.raises(DecodeError, match="more than 5 runs"):
        codec.digest_from_wire("awset", [WRITERS, [[0, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]], ok])
