"""What a journal row and a snapshot row hold, as bytes, with a checksum over each.

Deltas and states are encoded by `crdtstate.codec`, so reading them back validates every
field. The CRC-32 beside each blob catches damage that would still decode (a flipped byte in an
element's name), which the codec alone cannot see.
"""

from __future__ import annotations

import zlib
from typing import Any

from .. import codec
from ..errors import DecodeError
from ..types import Crdt


def checksum(blob: bytes) -> int:
    return zlib.crc32(blob)


def encode_group(deltas: dict[str, Crdt]) -> bytes:
    """One delta-group: [[name, [format, kind, payload]], ...] sorted by name."""
    return codec.pack([[name, codec.to_wire(delta)] for name, delta in sorted(deltas.items())])


def decode_group(blob: bytes) -> dict[str, Crdt]:
    entries = codec.unpack(blob)
    if not isinstance(entries, list):
        raise DecodeError("a journal group is a list of [name, delta] pairs")
    group: dict[str, Crdt] = {}
    for entry in entries:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str):
            raise DecodeError("a journal entry is a [name, delta] pair")
        name, delta = entry
        if name in group:
            raise DecodeError(f"object {name!r} appears twice in one journal group")
        group[name] = codec.from_wire(delta)
    return group


def verify(blob: Any, stored: Any, what: str) -> bytes:
    """`blob` if it is bytes whose checksum is `stored`; `DecodeError` otherwise."""
    if not isinstance(blob, bytes) or not isinstance(stored, int):
        raise DecodeError(f"{what}: wrong column types")
    if checksum(blob) != stored:
        raise DecodeError(f"{what}: checksum mismatch (the bytes were altered)")
    return blob
