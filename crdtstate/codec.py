"""Stable, versioned msgpack encoding of CRDT states, deltas and digests.

`decode` is the boundary where bytes from a peer or a file become state: it bounds sizes and
nesting, validates every field through the type's `from_wire`, and turns every failure into
`DecodeError`, so a hostile frame can never raise anything else or enter a state half-built.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import CrdtStateError, DecodeError
from .types import Crdt, kind_class
from .types.base import FORMAT_VERSION, LEGACY_FORMAT_VERSION

MAX_ENCODED_BYTES = 64 * 1024 * 1024
_LIMITS = dict(
    max_str_len=1 << 20,
    max_bin_len=16 << 20,
    max_array_len=4 << 20,
    max_map_len=4 << 20,
    max_ext_len=0,
)


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data: bytes) -> Any:
    """msgpack bytes -> plain structure, with every msgpack failure as `DecodeError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_ENCODED_BYTES:
        raise DecodeError(f"{len(data)} bytes is over the {MAX_ENCODED_BYTES} byte limit")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True, **_LIMITS)
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise DecodeError(f"malformed msgpack: {exc or type(exc).__name__}") from exc


def encode(obj: Crdt) -> bytes:
    """A CRDT state or delta as bytes: [format version, kind, payload]."""
    return pack([FORMAT_VERSION, obj.kind, obj.to_wire()])


def decode(data: bytes, kind: str | type[Crdt] | None = None) -> Crdt:
    """Bytes from `encode` back to a CRDT; `kind`, when given, must match the encoding.

    `kind` may be a declared class (`ORMap[str, PNCounter]`, `LWWRegister[Config]`): the
    encoding carries the wire kind and every nested value's kind, and the result is checked
    against, and converted to, the declaration (values validated by pydantic).
    """
    return from_wire(unpack(data), kind)


def from_wire(obj: Any, kind: str | type[Crdt] | None = None) -> Crdt:
    """A decoded [version, kind, payload] structure to a CRDT, validated.

    With a declared class as `kind`, the payload is read straight into it: every element is
    validated once, by the declaration (not decoded loosely first and converted after).
    """
    expected = kind.kind if isinstance(kind, type) else kind
    if not isinstance(obj, list) or len(obj) != 3:
        raise DecodeError("not a crdtstate encoding: expected [version, kind, payload]")
    version, encoded_kind, payload = obj
    if type(version) is not int or version not in (FORMAT_VERSION, LEGACY_FORMAT_VERSION):
        raise DecodeError(f"unsupported format version {version!r} (this is {FORMAT_VERSION})")
    if expected is not None and encoded_kind != expected:
        raise DecodeError(f"expected kind {expected!r}, got {encoded_kind!r}")
    cls = kind if isinstance(kind, type) else kind_class(encoded_kind)
    return _guarded(cls.from_wire if version == FORMAT_VERSION else cls.from_legacy_wire, payload)


def to_wire(obj: Crdt) -> list[Any]:
    return [FORMAT_VERSION, obj.kind, obj.to_wire()]


def digest_to_wire(kind: str, digest: Any) -> Any:
    return kind_class(kind).digest_to_wire(digest)


def digest_from_wire(kind: str, obj: Any) -> Any:
    return _guarded(kind_class(kind).digest_from_wire, obj)


def _guarded(parse: Any, payload: Any) -> Any:
    """Run a validator; anything it raises other than our own errors is a bug in the input."""
    try:
        return parse(payload)
    except CrdtStateError as exc:
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError(str(exc)) from exc
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise DecodeError(f"invalid payload: {exc}") from exc
