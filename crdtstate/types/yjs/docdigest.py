"""A document's digest: its Yjs state vector and its delete set (whole when small, else a
fingerprint), and their wire form, validated like every input from a peer."""

from __future__ import annotations

from typing import Any, NamedTuple

from ...errors import DecodeError
from . import ybinary


class DocDigest(NamedTuple):
    state: dict[int, int]  # Yjs state vector: client -> clock
    fingerprint: bytes  # ybinary.fingerprint of the delete set
    deleted: ybinary.DeleteSet | None  # the delete set itself, when it is small


def to_wire(digest: DocDigest) -> list[Any]:
    out: list[Any] = [ybinary.encode_state_vector(digest.state), digest.fingerprint]
    if digest.deleted is not None:
        out.append(ybinary.encode_delete_set(digest.deleted))
    return out


def from_wire(obj: Any) -> DocDigest:
    if not (isinstance(obj, list) and len(obj) in (2, 3)):
        raise DecodeError("document digest: expected [state vector, fingerprint, deletions]")
    state, fingerprint, *rest = obj
    if not all(isinstance(part, bytes) for part in obj) or len(fingerprint) != 16:
        raise DecodeError("document digest: malformed fields")
    deleted = None
    if rest:
        reader = ybinary.Reader(rest[0])
        deleted = ybinary.read_delete_set(reader)
        if not reader.at_end():
            raise DecodeError("document digest: trailing bytes after the deletions")
    return DocDigest(ybinary.read_state_vector(state), fingerprint, deleted)
