"""Yjs updates as a `Document` ships and holds them: their wire form (one update, or several
in order), merged in chunks for the wire, and which applied updates pycrdt holds back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import DecodeError
from . import ybinary

if TYPE_CHECKING:
    from pycrdt import Doc

MAX_UPDATE_BYTES = 16 * 1024 * 1024
MERGE_CHUNK = 64  # updates merged at once on the wire (merge_updates is quadratic in count)
MAX_WIRE_UPDATES = 1 << 16  # updates one delta may carry on the wire


def from_wire(obj: Any) -> list[bytes]:
    """Validate one update or a list of them; every failure is a `DecodeError`."""
    updates = obj if isinstance(obj, list) else [obj]
    if not updates or len(updates) > MAX_WIRE_UPDATES:
        raise DecodeError(f"document: expected 1 to {MAX_WIRE_UPDATES} updates")
    import pycrdt

    for update in updates:
        if not isinstance(update, bytes):
            raise DecodeError(f"document: expected update bytes, got {type(update).__name__}")
        if len(update) > MAX_UPDATE_BYTES:
            raise DecodeError(f"document: a {len(update)} byte update is over the limit")
        try:
            pycrdt.get_update(update, b"\x00")  # decodes every struct and the delete set
        except ValueError as exc:
            raise DecodeError(f"document: malformed Yjs update: {exc}") from exc
    return updates


def merged(updates: list[bytes]) -> list[bytes]:
    """Several updates as fewer, merged `MERGE_CHUNK` at a time (lossless, never applied)."""
    import pycrdt

    return [
        pycrdt.merge_updates(*updates[i : i + MERGE_CHUNK])
        for i in range(0, len(updates), MERGE_CHUNK)
    ]


def held_back(doc: Doc, updates: list[bytes]) -> list[bytes]:
    """The `updates` (already applied to `doc`) that pycrdt has not integrated: structs beyond
    our state vector, or deletions of items we do not hold yet. Duplicates are dropped."""
    if not updates:
        return []
    import pycrdt

    ours = doc.get_state()
    state: ybinary.StateVector | None = None
    held: list[bytes] = []
    for update in dict.fromkeys(updates):
        deleted = ybinary.deletions_only(pycrdt.get_update(update, ours))
        if deleted is None:
            held.append(update)
            continue
        if deleted:
            state = ybinary.read_state_vector(ours) if state is None else state
            if any(
                clock + length > state.get(client, 0)
                for client, ranges in deleted.items()
                for clock, length in ranges
            ):
                held.append(update)
    return held
