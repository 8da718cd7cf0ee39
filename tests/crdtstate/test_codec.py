"""The codec: stable, canonical round trips, and a decoder that only ever raises DecodeError.

Bytes from a peer or a file are untrusted: whatever they hold, `decode` either returns a valid
state or raises `crdtstate.errors.DecodeError` (DESIGN §3, Types).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdtstate import AWSet, CausalContext, Crdt, DecodeError, Dot, GCounter, PNCounter, codec
from crdtstate.codec import FORMAT_VERSION, MAX_ENCODED_BYTES, pack
from crdtstate.errors import InvalidValueError
from crdtstate.types import kind_class, wire
from crdtstate.types.base import LEGACY_FORMAT_VERSION as LEGACY
from crdtstate.types.values import MAX_ELEMENT_DEPTH

from .strategies import HISTORY_LAWS, KINDS, LAWS, histories, join_all, states

by_kind = pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
KIND_NAMES = [k.kind for k in KINDS]


def envelope(kind: str, payload: Any, version: Any = FORMAT_VERSION) -> bytes:
    return pack([version, kind, payload])


def decode_or_reject(data: Any, kind: str | None = None) -> Crdt | None:
    """Decode `data`; a DecodeError is a rejection (None), any other exception fails the test.

    A state that is accepted must be valid: it re-encodes to bytes that decode to it again.
    """
    try:
        obj = codec.decode(data, kind)
    except DecodeError:
        return None
    assert isinstance(obj, Crdt)
    assert kind is None or obj.kind == kind
    again = codec.decode(codec.encode(obj))
    assert again == obj
    assert codec.encode(again) == codec.encode(obj)
    if isinstance(obj, AWSet):
        assert all(obj.context.contains(d) for d in obj.store.all_dots())
    return obj


def check_digest_or_reject(kind: str, wire: Any) -> None:
    """Read `wire` as a digest: a DecodeError is a rejection, any other exception fails the
    test; an accepted digest round-trips and is usable by delta_since."""
    try:
        digest = codec.digest_from_wire(kind, wire)
    except DecodeError:
        return
    assert codec.digest_from_wire(kind, codec.digest_to_wire(kind, digest)) == digest
    assert kind_class(kind)().delta_since(digest).is_bottom()


# -- round trips and canonical bytes -------------------------------------------------------------


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_round_trip(kind: type[Crdt], data: st.DataObject) -> None:
    """decode(encode(x)) == x for every state and delta of a history, and re-encoding is stable."""
    history = data.draw(histories(kind))
    for x in [*history.pool(), *history.deltas]:
        encoded = codec.encode(x)
        assert isinstance(encoded, bytes)
        for expected_kind in (None, kind.kind):
            back = codec.decode(encoded, expected_kind)
            assert type(back) is kind
            assert back == x
            assert back.value == x.value
            assert codec.encode(back) == encoded


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_digest_round_trip(kind: type[Crdt], data: st.DataObject) -> None:
    """A digest survives digest_to_wire, msgpack and digest_from_wire unchanged."""
    x = data.draw(states(kind))
    wire = msgpack.unpackb(pack(codec.digest_to_wire(kind.kind, x.digest())), raw=False)
    digest = codec.digest_from_wire(kind.kind, wire)
    assert digest == x.digest()
    assert x.delta_since(digest).is_bottom()


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_encoding_is_canonical(kind: type[Crdt], data: st.DataObject) -> None:
    """Equal states have equal bytes, however they were built; different states, different."""
    history = data.draw(histories(kind))
    first = join_all(kind, data.draw(st.permutations(history.deltas)))
    second = join_all(kind, data.draw(st.permutations(history.deltas))[::-1])
    assert first == second
    assert codec.encode(first) == codec.encode(second)
    for x, y in itertools.combinations(history.pool(), 2):
        assert (x == y) is (codec.encode(x) == codec.encode(y)), (x, y)


@pytest.mark.parametrize(
    ("one", "other"),
    [(1, True), (1, 1.0), (0.0, -0.0)],
    ids=repr,
)
def test_equal_but_differently_typed_elements_converge(one: Any, other: Any) -> None:
    """Two replicas that receive the same deltas in different orders encode to the same bytes,
    even when two added elements compare equal in Python but have different types (unless
    the library refuses such an element outright, with InvalidValueError)."""
    deltas = []
    for element, replica in ((one, "a"), (other, "b")):
        try:
            deltas.append(AWSet().add(element, replica=replica))
        except InvalidValueError:
            continue
    first = join_all(AWSet, deltas)
    second = join_all(AWSet, deltas[::-1])
    assert first == second
    assert codec.encode(first) == codec.encode(second)
    assert {type(e) for e in first.value} == {type(e) for e in second.value}


def element_depth(element: Any) -> int:
    return 1 + max(map(element_depth, element), default=0) if isinstance(element, tuple) else 0


valid_scalars = st.one_of(
    st.text(max_size=4),
    st.binary(max_size=4),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False).filter(lambda f: not f.is_integer() or -(2**63) <= f < 2**64),
    st.none(),
)
valid_elements = st.recursive(
    valid_scalars, lambda inner: st.tuples(inner) | st.tuples(inner, inner), max_leaves=6
).filter(lambda e: element_depth(e) <= MAX_ELEMENT_DEPTH)


@LAWS
@given(st.lists(valid_elements, max_size=8))
def test_round_trip_of_every_element_type(elements: list[Any]) -> None:
    """Elements of every allowed type (str, bytes, 64-bit ints, floats, None, tuples) come
    back with their value and type."""
    state = AWSet.of(elements, replica="a")
    back = codec.decode(codec.encode(state))
    assert back == state
    assert {(type(e), e) for e in back.value} == {(type(e), e) for e in state.value}


def nested_tuple(depth: int) -> Any:
    element: Any = "leaf"
    for _ in range(depth):
        element = (element,)
    return element


def test_element_nesting_limit_is_the_same_both_ways() -> None:
    """The deepest element `add` accepts round-trips; one level deeper is refused by both."""
    deepest = nested_tuple(MAX_ELEMENT_DEPTH)
    state = AWSet.of([deepest], replica="a")
    assert codec.decode(codec.encode(state)) == state
    with pytest.raises(InvalidValueError):
        AWSet().add(nested_tuple(MAX_ELEMENT_DEPTH + 1), replica="a")
    too_deep: Any = "leaf"
    for _ in range(MAX_ELEMENT_DEPTH + 1):
        too_deep = [too_deep]
    with pytest.raises(DecodeError):
        codec.decode(envelope("awset", [[[too_deep, [["a", 1]]]], [{"a": 1}, []]]))


# -- malformed input: only DecodeError ---------------------------------------------------------


@LAWS
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    """Random bytes are rejected with DecodeError or decode to a valid state."""
    decode_or_reject(data)


@LAWS
@given(st.sampled_from(KIND_NAMES), st.binary(max_size=48))
def test_random_payload_bytes_raise_only_decode_error(kind: str, tail: bytes) -> None:
    """A valid [version, kind, ...] header followed by random bytes: DecodeError or valid."""
    decode_or_reject(b"\x93" + pack(FORMAT_VERSION) + pack(kind) + tail)


msgpack_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.integers(min_value=-3, max_value=3),
        st.floats(allow_nan=False),
        st.text(alphabet="abxy", max_size=3),
        st.binary(max_size=3),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(alphabet="abxy", max_size=2), inner, max_size=3),
    ),
    max_leaves=16,
)
small_counts = st.integers(min_value=-1, max_value=4)
dot_like = st.one_of(
    st.lists(st.sampled_from(["a", "b"]) | msgpack_values, min_size=2, max_size=2),
    st.tuples(st.sampled_from(["a", "b"]), small_counts).map(list),
    msgpack_values,
)
range_like = st.one_of(
    st.tuples(st.sampled_from(["a", "b"]), small_counts, small_counts).map(list),
    st.lists(st.sampled_from(["a", "b"]) | small_counts | msgpack_values, max_size=4),
    msgpack_values,
)
context_like = st.one_of(
    st.tuples(
        st.dictionaries(st.sampled_from(["a", "b"]), small_counts) | msgpack_values,
        st.lists(range_like, max_size=3),
    ).map(list),
    msgpack_values,
)
# Format 2: [writers, store, runs per writer], dots [writer index, counter].
writers_like = st.one_of(st.lists(st.sampled_from(["a", "b", "c", ""]), max_size=3), msgpack_values)
index_dot_like = st.one_of(
    st.tuples(small_counts, small_counts).map(list),
    st.lists(small_counts | msgpack_values, max_size=3),
)
runs_like = (
    st.lists(st.lists(small_counts, max_size=5) | msgpack_values, max_size=3) | msgpack_values
)
writer_table_payload = st.tuples(
    writers_like,
    st.lists(
        st.tuples(msgpack_values, st.lists(index_dot_like, max_size=3)).map(list) | msgpack_values,
        max_size=3,
    ),
    runs_like,
).map(list)
ormap_writer_table_payload = st.tuples(
    writers_like,
    st.tuples(
        st.lists(st.sampled_from(["lwwregister", "awset", "ormap", "gcounter"]), max_size=2)
        | msgpack_values,
        st.lists(
            st.tuples(
                msgpack_values, small_counts, st.lists(index_dot_like | msgpack_values, max_size=2)
            ).map(list),
            max_size=3,
        ),
    ).map(list),
    runs_like,
).map(list)
payloads = {
    "gcounter": st.one_of(
        st.dictionaries(st.sampled_from(["a", "b", ""]), msgpack_values, max_size=3),
        msgpack_values,
    ),
    "pncounter": st.one_of(
        st.lists(
            st.dictionaries(st.sampled_from(["a", "b"]), msgpack_values, max_size=2)
            | msgpack_values,
            min_size=1,
            max_size=3,
        ),
        msgpack_values,
    ),
    "awset": st.one_of(
        st.tuples(
            st.lists(
                st.tuples(msgpack_values, st.lists(dot_like, max_size=3)).map(list)
                | msgpack_values,
                max_size=3,
            ),
            context_like,
        ).map(list),
        writer_table_payload,
        msgpack_values,
    ),
    "ormap": st.one_of(ormap_writer_table_payload, msgpack_values),
}


@LAWS
@given(data=st.data())
def test_structured_garbage_raises_only_decode_error(data: st.DataObject) -> None:
    """Payloads shaped almost like valid ones, with any field of any type or range, decode to
    a valid state or raise DecodeError, never anything else."""
    kind = data.draw(st.sampled_from(sorted(payloads)))
    payload = data.draw(payloads[kind])
    version = data.draw(st.sampled_from([FORMAT_VERSION, FORMAT_VERSION, LEGACY, 0, 3, None]))
    decode_or_reject(envelope(kind, payload, version))
    decode_or_reject(envelope(kind, payload), kind)


@by_kind
@LAWS
@given(data=st.data())
def test_corrupted_encodings_raise_only_decode_error(kind: type[Crdt], data: st.DataObject) -> None:
    """A valid encoding with bytes overwritten, inserted or deleted: DecodeError or valid."""
    encoded = bytearray(codec.encode(data.draw(states(kind))))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(encoded)))
        how = data.draw(st.sampled_from(["overwrite", "insert", "delete"]))
        byte = data.draw(st.integers(min_value=0, max_value=255))
        if how == "insert":
            encoded.insert(at, byte)
        elif at < len(encoded):
            if how == "overwrite":
                encoded[at] = byte
            else:
                del encoded[at]
    decode_or_reject(bytes(encoded))


@by_kind
@HISTORY_LAWS
@given(data=st.data())
def test_truncated_encodings_are_rejected(kind: type[Crdt], data: st.DataObject) -> None:
    """Every proper prefix of an encoding, and an encoding with trailing bytes, is rejected."""
    encoded = codec.encode(data.draw(states(kind)))
    for end in range(len(encoded)):
        with pytest.raises(DecodeError):
            codec.decode(encoded[:end])
    trailing = data.draw(st.binary(min_size=1, max_size=4))
    with pytest.raises(DecodeError):
        codec.decode(encoded + trailing)


@pytest.mark.parametrize("version", [0, 3, -1, 2**64 - 1, "1", None, [1], 1.5, b"\x01"], ids=repr)
@by_kind
def test_wrong_format_version_is_rejected(kind: type[Crdt], version: Any) -> None:
    """Any format version other than the current one (or format 1, still read) is rejected."""
    with pytest.raises(DecodeError):
        codec.decode(envelope(kind.kind, kind().to_wire(), version))


@pytest.mark.parametrize("version", [True, float(FORMAT_VERSION)], ids=repr)
def test_format_version_must_be_the_integer(version: Any) -> None:
    """The format version is the integer 1: a bool or float that equals it is a wrong type."""
    with pytest.raises(DecodeError):
        codec.decode(envelope("gcounter", {"a": 1}, version))


@pytest.mark.parametrize(
    "kind",
    ["gset", "", "GCOUNTER", "awset ", 1, None, True, b"gcounter", ["gcounter"], {"k": 1}],
    ids=repr,
)
def test_unknown_kind_is_rejected(kind: Any) -> None:
    """A kind no type registered is rejected, including non-string kinds."""
    with pytest.raises(DecodeError):
        codec.decode(envelope(kind, {}))
    with pytest.raises(DecodeError):
        codec.digest_from_wire(kind, {})


@by_kind
def test_expected_kind_must_match(kind: type[Crdt]) -> None:
    """decode(data, kind) rejects an encoding of another kind."""
    encoded = codec.encode(kind())
    for other in KIND_NAMES:
        if other != kind.kind:
            with pytest.raises(DecodeError):
                codec.decode(encoded, other)


@pytest.mark.parametrize(
    "data",
    [
        pack(None),
        pack(1),
        pack("gcounter"),
        pack({}),
        pack([]),
        pack([FORMAT_VERSION, "gcounter"]),
        pack([FORMAT_VERSION, "gcounter", {}, None]),
        pack({"version": 1, "kind": "gcounter", "payload": {}}),
        b"",
        b"\xc1",  # a byte msgpack never uses
        b"\xd4\x01\x00",  # an ext type
        b"\xd6\xff\x00\x00\x00\x00",  # a msgpack timestamp
        b"\x81\x01\x02",  # a map with an integer key
        b"\x81\x90\x02",  # a map with an unhashable key
    ],
    ids=repr,
)
def test_malformed_envelopes_are_rejected(data: bytes) -> None:
    """Anything but [version, kind, payload] is rejected."""
    with pytest.raises(DecodeError):
        codec.decode(data)


@pytest.mark.parametrize("data", ["text", None, 12, [1, "gcounter", {}], {"a": 1}], ids=repr)
def test_non_bytes_input_is_rejected(data: Any) -> None:
    """decode refuses what is not bytes with DecodeError, not TypeError."""
    with pytest.raises(DecodeError):
        codec.decode(data)


BAD_PAYLOADS: list[tuple[str, Any]] = [
    ("gcounter", []),
    ("gcounter", None),
    ("gcounter", {"a": "1"}),
    ("gcounter", {"a": 1.0}),
    ("gcounter", {"a": True}),
    ("gcounter", {"a": -1}),
    ("gcounter", {"a": 0}),
    ("gcounter", {"a": 2**63}),
    ("gcounter", {"a": 2**64 - 1}),
    ("gcounter", {"a": None}),
    ("gcounter", {"a": [1]}),
    ("gcounter", {"": 1}),
    ("gcounter", {"r" * (wire.MAX_REPLICA_ID + 1): 1}),
    ("pncounter", {}),
    ("pncounter", []),
    ("pncounter", [{}]),
    ("pncounter", [{}, {}, {}]),
    ("pncounter", [{"a": 1}, []]),
    ("pncounter", [{"a": 1}, {"b": -2}]),
    ("pncounter", "pn"),
    ("awset", []),
    ("awset", {}),
    ("awset", [[]]),
    ("awset", [[], {}]),
    ("awset", [[], []]),
    ("awset", [[], [{}]]),
    ("awset", [[], [{}, {}]]),
    ("awset", [[], [[], []]]),
    ("awset", [[], [{"a": 0}, []]]),
    ("awset", [[], [{"a": -1}, []]]),
    ("awset", [[], [{"a": 1}, [["a"]]]]),
    ("awset", [[], [{"a": 1}, [["a", 3]]]]),
    ("awset", [[], [{"a": 1}, [["a", 0, 1]]]]),
    ("awset", [[], [{"a": 1}, [["a", 4, 3]]]]),  # an empty range
    ("awset", [[], [{"a": 1}, [[1, 3, 3]]]]),
    ("awset", [[], [{"a": 1}, [["", 3, 3]]]]),
    ("awset", [[], [{"a": 1}, [["a", 3, 4, 5]]]]),
    ("awset", [[], [{"a": 1}, [["a", "3", 4]]]]),
    ("awset", [[], [{"a": 1}, [["a", 3, 4.0]]]]),
    ("awset", [[], [{"a": 1}, ["a3"]]]),
    ("awset", [[], [{"a": 1}, [["a", 3, 2**63]]]]),
    ("awset", [[], [{"a": 1}, {"a": [3, 4]}]]),
    ("awset", [{}, [{"a": 1}, []]]),
    ("awset", [[["x"]], [{"a": 1}, []]]),
    ("awset", [[["x", [["a", 1]], 0]], [{"a": 1}, []]]),
    ("awset", [[["x", [["a", 2]]]], [{"a": 1}, []]]),  # a dot outside the context
    ("awset", [[["x", [["a", 1]]], ["y", [["a", 1]]]], [{"a": 1}, []]]),  # a repeated dot
    ("awset", [[["x", [["a", 1], ["a", 1]]]], [{"a": 1}, []]]),  # repeated within an entry
    ("awset", [[[{"k": 1}, [["a", 1]]]], [{"a": 1}, []]]),  # a map is not an element
    ("awset", [[["x", "a1"]], [{"a": 1}, []]]),
    ("awset", [[["x", [["a", 1]]]], None]),
]


@pytest.mark.parametrize(("kind", "payload"), BAD_PAYLOADS, ids=repr)
def test_wrong_field_types_and_ranges_are_rejected(kind: str, payload: Any) -> None:
    """A payload with a field of the wrong type, shape or range is rejected (the causal ones
    here in format 1, the form journals written before writer tables hold)."""
    with pytest.raises(DecodeError):
        codec.decode(envelope(kind, payload, LEGACY))


# Format 2: causal payloads are [writers, store, context runs per writer].
WRITE = [[0, 1, [1, 0, "v"]]]  # a register's store: writer 0's dot 1 wrote "v"


def ormap_payload(kinds: list[Any], entries: list[Any]) -> list[Any]:
    return [["a"], [kinds, entries], [[0, 1]]]


BAD_WRITER_TABLE_PAYLOADS: list[tuple[str, Any]] = [
    ("awset", [[], [], [[]]]),  # a context list for no writer
    ("awset", [["a"], [], []]),  # a writer without a context list
    ("awset", [["a"], [], [[]]]),  # a writer the context never saw
    ("awset", [["b", "a"], [], [[0, 1], [0, 1]]]),  # writers out of order
    ("awset", [["a", "a"], [], [[0, 1], [0, 1]]]),  # a writer repeated
    ("awset", [[""], [], [[0, 1]]]),  # an empty replica id
    ("awset", [[7], [], [[0, 1]]]),  # a writer that is no string
    ("awset", [["a"], [], [[0, 1, 0, 1]]]),  # runs that touch: not canonical
    ("awset", [["a"], [], [[0, 0]]]),  # an empty run
    ("awset", [["a"], [], [[-1, 1]]]),  # a negative gap
    ("awset", [["a"], [["x", [[1, 1]]]], [[0, 1]]]),  # writer 1 is not in the table
    ("awset", [["a"], [["x", [[0, 2]]]], [[0, 1]]]),  # a dot outside the context
    ("awset", [["a"], [["x", [[0, 0]]]], [[0, 1]]]),  # counter 0
    ("awset", [["a"], [["x", [["a", 1]]]], [[0, 1]]]),  # a name where an index belongs
    ("awset", [["a"], [["x", [[0, 1]]], ["y", [[0, 1]]]], [[0, 1]]]),  # a repeated dot
    ("awset", [["a"], [["x", [[0, 1]]]], {"a": 1}]),  # a context in the old form
    ("awset", [["a"], [["x", [[0, 1]]]]]),  # format 1's shape under format 2
    ("lwwregister", [["a"], [[0, 1, [1, 0, "v"], 9]], [[0, 1]]]),  # a write of 4 fields
    ("ormap", ormap_payload(["lwwregister"], [["k", 1, WRITE]])),  # kind 1 is not in the table
    ("ormap", ormap_payload(["lwwregister"], [["k", "lwwregister", WRITE]])),  # a name, no index
    ("ormap", ormap_payload(["lwwregister", "awset"], [["k", 0, WRITE]])),  # a kind left unused
    ("ormap", ormap_payload(["lwwregister", "lwwregister"], [])),  # a kind repeated
    ("ormap", ormap_payload(["gcounter"], [["k", 0, {"a": 1}]])),  # not a kind a map holds
    ("ormap", [["a"], [["k", "lwwregister", WRITE]], [[0, 1]]]),  # format 1's entries
]


@pytest.mark.parametrize(("kind", "payload"), BAD_WRITER_TABLE_PAYLOADS, ids=repr)
def test_malformed_writer_tables_are_rejected(kind: str, payload: Any) -> None:
    with pytest.raises(DecodeError):
        codec.decode(envelope(kind, payload))


def test_format_1_still_decodes_to_the_same_state() -> None:
    """Journals and snapshots written before writer tables load unchanged."""
    legacy = [
        [["x", [["a~q", 1]]], ["y", [["a~q", 2], ["b", 1]]]],
        [{"a~q": 2, "b": 1}, []],
    ]
    expected = AWSet.of(["x"], replica="a~q")
    expected.merge(AWSet.of(["y"], replica="b"))
    both = AWSet()
    both.store.put("x", Dot("a~q", 1))
    both.store.put("y", Dot("a~q", 2))
    both.store.put("y", Dot("b", 1))
    both.context.merge(CausalContext({"a~q": 2, "b": 1}))
    decoded = codec.decode(envelope("awset", legacy, LEGACY))
    assert decoded == both
    assert codec.decode(codec.encode(decoded)) == both
    store = [["x", [[0, 1]]], ["y", [[0, 2], [1, 1]]]]
    payload = [["a~q", "b"], store, [[0, 2], [0, 1]]]
    assert codec.encode(decoded) == pack([FORMAT_VERSION, "awset", payload])


BAD_DIGESTS: list[tuple[str, Any]] = [
    ("gcounter", []),
    ("gcounter", {"a": -1}),
    ("gcounter", {"a": "x"}),
    ("pncounter", {}),
    ("pncounter", [{}]),
    ("pncounter", [{"a": 1}, {"a": 1.5}]),
    ("awset", {}),
    ("awset", []),
    ("awset", [{}, {}]),
    ("awset", [[{"a": 1}, [["a", -3, 1]]], {}]),
    ("awset", [[{"a": 1}, [["a"]]], {}]),
    ("awset", [[{"a": 1}, []], {"a": [1]}]),  # held dots in the old form (a counter per dot)
    ("awset", [[{"a": 1}, []], [["a", [0]]]]),
    ("awset", [[{"a": 1}, []], [["a", ["0", 1]]]]),
    ("awset", [[{"a": 1}, []], [["", [0, 1]]]]),
    ("awset", [[{"a": 1}, []], [["a", 1]]]),
    ("awset", [[{}, []], [["a", [0, 1]]]]),  # a held dot outside the digest's context
]


@pytest.mark.parametrize(("kind", "digest"), BAD_DIGESTS, ids=repr)
def test_malformed_digests_are_rejected(kind: str, digest: Any) -> None:
    """digest_from_wire validates like decode: DecodeError for any malformed digest."""
    with pytest.raises(DecodeError):
        codec.digest_from_wire(kind, digest)


@LAWS
@given(st.sampled_from(KIND_NAMES), msgpack_values)
def test_random_digests_raise_only_decode_error(kind: str, digest: Any) -> None:
    """digest_from_wire of any msgpack value returns a digest or raises DecodeError."""
    check_digest_or_reject(kind, digest)


def test_valid_but_non_compact_context_decodes_compacted() -> None:
    """A context sent with its dots in the cloud decodes to the compact form (same state)."""
    expected = AWSet.of(["x", "y"], replica="a")
    sent = [
        [["x", [["a", 1]]], ["y", [["a", 2]]]],
        [{}, [["a", 2, 2], ["a", 1, 1]]],
    ]
    decoded = codec.decode(envelope("awset", sent, LEGACY))
    assert decoded == expected
    assert decoded.context == CausalContext({"a": 2})
    assert decoded.context.vector == {"a": 2}
    assert codec.encode(decoded) == codec.encode(expected)
    assert decoded.store.dots_of("y") == {Dot("a", 2)}


@pytest.mark.parametrize("depth", [200, 5_000, 100_000])
def test_deep_nesting_is_rejected(depth: int) -> None:
    """Deeply nested arrays, at the top or inside a payload, are rejected without a crash."""
    nested = b"\x91" * depth + b"\xc0"
    for data in (
        nested,
        b"\x93\x01" + pack("awset") + nested,
        b"\x93\x01" + pack("awset") + b"\x92" + nested + pack([{}, []]),
        b"\x93\x01" + pack("gcounter") + b"\x81\xa1a" + nested,
    ):
        with pytest.raises(DecodeError):
            codec.decode(data)


HUGE_HEADERS = {
    "array32": b"\xdd\xff\xff\xff\xff",
    "map32": b"\xdf\xff\xff\xff\xff",
    "str32": b"\xdb\xff\xff\xff\xff",
    "bin32": b"\xc6\xff\xff\xff\xff",
    "ext32": b"\xc9\xff\xff\xff\xff\x01",
    "array16": b"\xdc\xff\xff",
    "array-under-limit": b"\xdd\x00\x3f\xff\xff",
}


@pytest.mark.parametrize("header", HUGE_HEADERS.values(), ids=HUGE_HEADERS.keys())
def test_huge_declared_lengths_are_rejected(header: bytes) -> None:
    """A length header promising more data than is sent is rejected, at any position."""
    for data in (
        header,
        header + b"\x00" * 16,
        b"\x93\x01" + pack("awset") + header,
        b"\x93\x01" + pack("gcounter") + b"\x81\xa1a" + header,
        b"\x93\x01" + header,
        b"\xdd\xff\xff\xff\xff\x01" + pack("gcounter"),
    ):
        with pytest.raises(DecodeError):
            codec.decode(data)


HUGE_COUNTER_PROBE = """
import sys
from crdtstate import AWSet, CausalContext, DecodeError, Dot, codec
claims = AWSet(context=CausalContext({"a": 2**40}, [Dot("b", 2**40)]))
encoded = codec.encode(claims)
assert len(encoded) < 64, encoded
try:
    bomb = codec.decode(encoded)
except DecodeError:
    sys.exit(0)
local = AWSet.of(["x"], replica="b")
local.novel(bomb)
bomb.delta_since(local.digest())
local.delta_since(bomb.digest())
local.merge(bomb)
"""


def test_huge_counters_are_rejected_or_cheap() -> None:
    """A small encoding claiming 2**40 dots is rejected, or merged, diffed and compared in
    time independent of the claimed count (otherwise one small frame stalls a replica)."""
    try:
        subprocess.run(
            [sys.executable, "-c", HUGE_COUNTER_PROBE], check=True, timeout=5, capture_output=True
        )
    except subprocess.TimeoutExpired:
        pytest.fail("novel/delta_since/merge with a context claiming 2**40 dots ran over 5 s")


def test_oversized_input_is_rejected() -> None:
    """Input over MAX_ENCODED_BYTES is rejected before it is parsed."""
    with pytest.raises(DecodeError):
        codec.decode(bytes(MAX_ENCODED_BYTES + 1))


@LAWS
@given(st.sampled_from([GCounter, PNCounter]), st.integers(min_value=2**63, max_value=2**64 - 1))
def test_counter_over_64_bits_is_rejected(kind: type[Crdt], count: int) -> None:
    """Counts above the signed 64-bit range are rejected, not wrapped or accepted."""
    payload = {"a": count} if kind is GCounter else [{}, {"a": count}]
    with pytest.raises(DecodeError):
        codec.decode(envelope(kind.kind, payload))


@LAWS
@given(st.sampled_from(KIND_NAMES), st.binary(max_size=32))
def test_random_digest_bytes_raise_only_decode_error(kind: str, data: bytes) -> None:
    """Random bytes unpacked and read as a digest: DecodeError at either step, nothing else."""
    try:
        wire = codec.unpack(data)
    except DecodeError:
        return
    check_digest_or_reject(kind, wire)


def test_decode_error_is_a_value_error() -> None:
    """DecodeError is catchable as ValueError too, and names what was wrong."""
    with pytest.raises(ValueError, match="version"):
        codec.decode(envelope("gcounter", {}, 99))


@LAWS
@given(
    st.one_of(
        st.tuples(st.just(int), st.integers(min_value=-(2**63), max_value=2**64 - 1)),
        st.tuples(st.just(str), st.text(max_size=8)),
        st.tuples(st.just(bool), st.booleans()),
        st.tuples(st.just(float), st.floats(allow_nan=False)),
        st.tuples(
            st.sampled_from([int, str, bool]), st.one_of(st.integers(), st.text(), st.booleans())
        ),
    )
)
def test_a_declared_scalar_travels_as_its_json_dump(case: tuple[type, Any]) -> None:
    """`ValueSpec.to_wire` and `from_wire` return a plain int, str or bool declared as itself
    unchanged: it is what pydantic's JSON-mode dump, and its validation, give (the general
    path, taken for everything else)."""
    from crdtstate.types.values import ValueSpec

    tp, value = case
    spec = ValueSpec(tp)
    try:  # read as validating gives, whatever arrives
        read: tuple[Any, ...] = ("ok", spec.from_wire(value), type(spec.from_wire(value)))
    except DecodeError:
        read = ("error",)
    try:
        validated = spec._validator(value)
        want: tuple[Any, ...] = ("ok", validated, type(validated))
    except ValueError:
        want = ("error",)
    assert read == want
    try:
        stored = spec.check(value)
    except InvalidValueError:
        return
    wired = spec.to_wire(stored)
    dumped = spec._dump(stored, mode="json")
    assert wired == dumped and type(wired) is type(dumped)
    assert pack(wired) == pack(dumped)


@LAWS
@given(
    st.sampled_from([Any, str, int]),
    st.one_of(st.text(max_size=4), st.integers(), st.booleans(), st.none(), st.floats()),
)
def test_a_str_map_key_reads_as_checking_it_gives(tp: Any, raw: Any) -> None:
    """`KeySpec.from_wire` returns a str key of an undeclared or str-keyed map as is: what
    reading it as an element and checking it gives (the path every other key takes)."""
    from crdtstate.types.values import KeySpec, element_from_wire

    spec = KeySpec(tp)
    try:
        got: tuple[Any, ...] = ("ok", spec.from_wire(raw))
    except DecodeError:
        got = ("error",)
    try:
        want: tuple[Any, ...] = ("ok", spec.check(element_from_wire(raw)))
    except (DecodeError, InvalidValueError):
        want = ("error",)
    assert got == want and type(got[-1]) is type(want[-1])
