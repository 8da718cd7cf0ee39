"""Dropping buffered groups every peer holds: the GC below min(A[j]) of DESIGN §4."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from crdtstate.resume_points import ResumePoints

from .session import PeerSession


class Collectable(Protocol):
    """The delta buffer, as garbage collection sees it (`crdtstate.buffer.DeltaBuffer`)."""

    @property
    def sequence(self) -> int: ...

    @property
    def floor(self) -> int: ...

    def discard_through(self, sequence: int) -> None: ...


def collect_garbage(
    buffer: Collectable, sessions: Iterable[PeerSession], remembered: ResumePoints | None = None
) -> int:
    """Drop the groups no open session can still need, nor a `remembered` peer resuming
    (within the book's bound); returns the new floor.

    A session that is not serving (before or during a digest exchange) holds nothing back:
    the digest answer, not the buffer, will bring that peer up to date. With no session at
    all and no peer remembered every group goes, and a peer that connects later is served
    by digests.
    """
    needs = [n for s in sessions if (n := s.needs_from()) is not None]
    if remembered is not None and (kept := remembered.floor(buffer.sequence)) is not None:
        needs.append(kept)
    floor = min(needs) if needs else buffer.sequence
    if floor > buffer.floor:
        buffer.discard_through(floor)
    return buffer.floor
