"""Bytes from a peer can be anything: decoding every type raises `DecodeError` or returns a
valid state, never anything else, and never hangs on deep nesting or huge lengths."""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate import DecodeError, codec
from crdtstate.types import ORMap, PNCounter
from crdtstate.types.causal import MAX_DEPTH

from .type_scenarios import KINDS, Kind, histories

FUZZ = settings(max_examples=50, deadline=None)
each_kind = pytest.mark.parametrize("kind", KINDS, ids=repr)


def decodes_or_rejects(data: bytes, kind: Any = None) -> None:
    try:
        state = codec.decode(data, kind)
    except DecodeError:
        return
    # Accepted input is a well-formed state: it re-encodes and decodes to itself.
    assert codec.decode(codec.encode(state)) == state


plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=5)
    | st.binary(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


def mutate(obj: Any, path: list[int], replacement: Any) -> Any:
    """`obj` with the subtree reached by following `path` (indices, wrapped) replaced."""
    if not path or not isinstance(obj, list) or not obj:
        return replacement
    i = path[0] % len(obj)
    return [*obj[:i], mutate(obj[i], path[1:], replacement), *obj[i + 1 :]]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_rejected_cleanly(data: bytes) -> None:
    decodes_or_rejects(data)
    decodes_or_rejects(b"\x93\x01\xa5ormap" + data)


@each_kind
@FUZZ
@given(data=st.data())
def test_truncated_and_flipped_encodings_are_rejected_cleanly(kind: Kind, data) -> None:
    state = data.draw(histories(kind)).states[0]
    encoded = codec.encode(state)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    decodes_or_rejects(encoded[:cut], kind.cls)
    flip = data.draw(st.integers(0, len(encoded) - 1))
    flipped = bytearray(encoded)
    flipped[flip] ^= data.draw(st.integers(1, 255))
    decodes_or_rejects(bytes(flipped))
    decodes_or_rejects(bytes(flipped), kind.cls)


@each_kind
@FUZZ
@given(data=st.data())
def test_structurally_corrupted_payloads_are_rejected_cleanly(kind: Kind, data) -> None:
    state = data.draw(histories(kind)).states[0]
    wire = codec.to_wire(state)
    path = data.draw(st.lists(st.integers(0, 10), max_size=8))
    corrupted = mutate(wire, path, data.draw(plain))
    decodes_or_rejects(codec.pack(corrupted))
    other = data.draw(st.sampled_from(KINDS))
    decodes_or_rejects(codec.pack([1, other.cls.kind, wire[2]]))  # a wrong tag


@each_kind
@FUZZ
@given(data=st.data())
def test_corrupted_digests_are_rejected_cleanly(kind: Kind, data) -> None:
    state = data.draw(histories(kind)).states[0]
    raw = kind.cls.digest_to_wire(state.digest())
    corrupted = mutate(raw, data.draw(st.lists(st.integers(0, 5), max_size=5)), data.draw(plain))
    with contextlib.suppress(DecodeError):
        codec.digest_from_wire(kind.cls.kind, codec.unpack(codec.pack(corrupted)))


def test_deep_msgpack_nesting_is_rejected() -> None:
    deep = b"\x91" * 200_000 + b"\xc0"
    with pytest.raises(DecodeError):
        codec.decode(deep)


def test_huge_declared_lengths_are_rejected_without_allocating() -> None:
    array32 = b"\xdd" + struct.pack(">I", 2**32 - 1)
    str32 = b"\xdb" + struct.pack(">I", 2**32 - 1)
    for header in (array32, str32, b"\xdf" + struct.pack(">I", 2**32 - 1)):
        with pytest.raises(DecodeError):
            codec.decode(header)
        with pytest.raises(DecodeError):
            codec.decode(b"\x93\x01\xa5ormap" + header)


def nested_map_wire(depth: int) -> list[Any]:
    """An ORMap nesting `depth` maps in all, with a counter at the bottom."""
    store: Any = [["a", 1, 1]]
    tag = "ccounter"
    for _ in range(depth):
        store = [["k", tag, store]]
        tag = "ormap"
    return [1, "ormap", [store, [{"a": 1}, []]]]


def test_maps_nested_beyond_the_limit_are_rejected_and_within_it_accepted() -> None:
    ok = codec.decode(codec.pack(nested_map_wire(MAX_DEPTH)))
    assert isinstance(ok, ORMap)
    with pytest.raises(DecodeError, match="deeper"):
        codec.decode(codec.pack(nested_map_wire(MAX_DEPTH + 1)))


def test_a_state_with_a_dot_outside_its_context_or_repeated_is_rejected() -> None:
    m = ORMap[str, PNCounter]()
    m.apply("k", lambda c: c.increment(1, replica="a"))
    version, kind, (writers, (kinds, entries), context) = codec.to_wire(m)
    assert codec.decode(codec.pack([version, kind, [writers, [kinds, entries], context]])) == m
    with pytest.raises(DecodeError):
        codec.decode(codec.pack([version, kind, [[], [kinds, entries], []]]))
    twice = [entries[0], ["l", entries[0][1], entries[0][2]]]
    with pytest.raises(DecodeError):
        codec.decode(codec.pack([version, kind, [writers, [kinds, twice], context]]))
    with pytest.raises(DecodeError):  # unknown format version
        codec.decode(codec.pack([3, kind, [writers, [kinds, entries], context]]))


def test_msgpack_itself_refuses_what_we_bound() -> None:
    too_long = msgpack.packb("x" * ((1 << 20) + 1))
    with pytest.raises(DecodeError):
        codec.decode(too_long)
