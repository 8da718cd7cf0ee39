"""Deltas as frames: wire entries, and their split into frames a peer will accept.

Pure functions of the session's deltas and limits, kept apart from the state machine.
"""

from __future__ import annotations

from typing import Any

from crdtstate import codec
from crdtstate.errors import ProtocolError
from crdtstate.types import Crdt

from .messages import encode_delta

FRAME_OVERHEAD = 64  # a Delta frame's bytes besides its entries
Entry = tuple[str, str, Any]  # name, kind, payload


def delta_entries(deltas: dict[str, Crdt]) -> list[Entry]:
    """The entries of a Delta frame, in name order (a frame's bytes do not depend on the
    order deltas were joined in)."""
    return [(name, delta.kind, delta.to_wire()) for name, delta in sorted(deltas.items())]


def decode_entry(kind: str, payload: Any, local: type[Crdt] | None) -> Crdt:
    """A received entry's delta, validated once: read straight into `local` (the class of the
    replica's object of that name, maybe declared, e.g. `ORMap[str, int]`) when its kind is
    the entry's, else as the entry's kind (a kind conflict is the replica's to refuse).

    Raises `DecodeError` on anything malformed.
    """
    declared = local if local is not None and local.kind == kind else None
    return codec.from_wire([codec.FORMAT_VERSION, kind, payload], declared)


def split_entries(
    entries: list[Entry], max_frame_bytes: int, *, ordered: bool
) -> list[list[Entry]]:
    """Entries in frame-sized chunks. Only on an ordered link: where a leading part could be
    lost while the last (which claims the range) arrives, it would never be resent.

    Raises `ProtocolError` when one object's delta alone exceeds the frame limit.
    """
    room = max_frame_bytes - FRAME_OVERHEAD
    sizes = [len(codec.pack(entry)) for entry in entries]
    for entry, size in zip(entries, sizes, strict=True):
        if size > room:
            raise ProtocolError(f"the delta of {entry[0]!r} ({size} bytes) exceeds the frame limit")
    if sum(sizes) <= room or not ordered:
        return [entries]
    chunks: list[list[Entry]] = [[]]
    used = 0
    for entry, size in zip(entries, sizes, strict=True):
        if used + size > room and chunks[-1]:
            chunks.append([])
            used = 0
        chunks[-1].append(entry)
        used += size
    return chunks


def delta_frames(
    deltas: dict[str, Crdt],
    upto: int,
    since: int | None,
    ack: int | None,
    max_frame_bytes: int,
    ordered: bool,
) -> list[tuple[bytes, int]]:
    """A push's Delta frames, each with its payload bytes (the frame less its header).

    Packed once when it fits (the usual case). When split, only the last frame carries the
    range and the ack: the earlier ones claim no group (an empty range), so an ack never
    covers a group before all of it arrived.

    Raises `ProtocolError` when one object's delta alone exceeds the frame limit.
    """
    entries = delta_entries(deltas)
    parts = [(upto, entries, since, ack)]
    whole = encode_delta(*parts[0])
    if len(whole) > max_frame_bytes - FRAME_OVERHEAD:
        chunks = split_entries(entries, max_frame_bytes, ordered=ordered)
        parts = [(since or 0, chunk, since, None) for chunk in chunks[:-1]]
        parts.append((upto, chunks[-1], since, ack))
    frames = [whole] if len(parts) == 1 else [encode_delta(*part) for part in parts]
    return [
        (frame, len(frame) - len(encode_delta(u, [], s, a)) + 1)  # +1: the empty list
        for frame, (u, _, s, a) in zip(frames, parts, strict=True)
    ]
