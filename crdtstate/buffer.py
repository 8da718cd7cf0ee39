"""The delta buffer anti-entropy ships from: sequence number -> (delta-group, origin).

Every group a replica stores, made locally or received, gets the next sequence number. A peer
that has acknowledged sequence `a` is served the join of the groups after `a`, minus those that
came from that peer (BP). Groups every peer has acknowledged can be dropped; a peer whose
acknowledgement falls below what is kept must be served by digest exchange instead.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .types import Crdt


@dataclass(frozen=True, slots=True)
class DeltaGroup:
    sequence: int
    origin: str
    deltas: dict[str, Crdt]


class DeltaBuffer:
    def __init__(self, start: int = 0) -> None:
        self._groups: deque[DeltaGroup] = deque()
        self._sequence = start
        self._floor = start  # every group with sequence <= floor has been dropped

    @property
    def sequence(self) -> int:
        """The sequence number of the newest group (0 before the first)."""
        return self._sequence

    @property
    def floor(self) -> int:
        return self._floor

    def __len__(self) -> int:
        return len(self._groups)

    def append(self, origin: str, deltas: dict[str, Crdt]) -> int:
        self._sequence += 1
        self._groups.append(DeltaGroup(self._sequence, origin, deltas))
        return self._sequence

    def can_serve(self, after: int) -> bool:
        """True when every group after `after` is still held."""
        return after >= self._floor

    def collect(self, after: int, *, exclude_origin: str | None = None) -> dict[str, Crdt]:
        """The join, per object, of the groups after `after` not from `exclude_origin`.

        Buffered deltas are never mutated: an object's first delta is shared, a second one
        makes a private copy to join into.
        """
        joined: dict[str, Crdt] = {}
        owned: set[str] = set()
        for group in self._groups_after(after):
            if group.origin == exclude_origin:
                continue
            for name, delta in group.deltas.items():
                if name not in joined:
                    joined[name] = delta
                    continue
                if name not in owned:
                    joined[name] = joined[name].copy()
                    owned.add(name)
                joined[name].merge(delta)
        return joined

    def _groups_after(self, after: int) -> list[DeltaGroup]:
        if not self._groups or after >= self._sequence:
            return []
        skip = max(0, after - self._groups[0].sequence + 1)
        return [self._groups[i] for i in range(skip, len(self._groups))]

    def discard_through(self, sequence: int) -> None:
        """Drop the groups with sequence <= `sequence` (all peers have them)."""
        while self._groups and self._groups[0].sequence <= sequence:
            self._groups.popleft()
        self._floor = max(self._floor, min(sequence, self._sequence))
