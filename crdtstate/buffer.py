"""The delta buffer anti-entropy ships from: sequence number -> (delta-group, origin).

Every group a replica stores, made locally or received, gets the next sequence number. A peer
that has acknowledged sequence `a` is served the join of the groups after `a`, minus those it
is known to hold: the ones it sent us (BP, Enes et al.), and the ones whose content it sent us
later (the same idea, learned from content rather than origin; it is what keeps a mesh from
shipping a change both ways along a link). Groups every peer has acknowledged are dropped, and
so are the oldest groups once the buffer holds more than `max_bytes`: memory stays bounded, and
a peer whose acknowledgement falls below what is kept is served by digest exchange instead.

The sequence counter lives here, not in the replica, so that a durable replica can start the
buffer at its stored counter (`DeltaBuffer(start=...)`) and never reuse a number.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from . import codec
from .types import Crdt

DEFAULT_MAX_BYTES = 16 * 1024 * 1024


ENTRY_OVERHEAD = 4  # an entry's list and string headers in msgpack


@dataclass(slots=True)
class DeltaGroup:
    sequence: int
    origin: str
    deltas: dict[str, Crdt]
    size: int  # encoded bytes, for the byte bound
    known: set[str] = field(default_factory=set)  # peers known to hold this group


def encoded_size(deltas: dict[str, Crdt]) -> int:
    """Bytes of the deltas as a delta frame carries them: [name, kind, payload] entries
    (the payloads packed exactly; names, kinds and msgpack headers counted, not packed)."""
    return sum(
        len(codec.pack(d.to_wire())) + len(name) + len(d.kind) + ENTRY_OVERHEAD
        for name, d in deltas.items()
    )


class DeltaBuffer:
    def __init__(self, start: int = 0, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self._groups: deque[DeltaGroup] = deque()
        self._sequence = start
        self._floor = start  # every group with sequence <= floor has been dropped
        self._bytes = 0
        self.max_bytes = max_bytes
        self.dropped_for_bound = 0  # groups dropped to stay under max_bytes (peers resync)

    @property
    def sequence(self) -> int:
        """The sequence number of the newest group (`start` before the first)."""
        return self._sequence

    @property
    def floor(self) -> int:
        return self._floor

    @property
    def bytes(self) -> int:
        """Encoded bytes of the groups held (never above `max_bytes` between calls)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._groups)

    def append(self, origin: str, deltas: dict[str, Crdt]) -> int:
        self._sequence += 1
        group = DeltaGroup(self._sequence, origin, deltas, encoded_size(deltas), {origin})
        self._groups.append(group)
        self._bytes += group.size
        while self._bytes > self.max_bytes and self._groups:
            self._drop_oldest()
            self.dropped_for_bound += 1
        return self._sequence

    def can_serve(self, after: int) -> bool:
        """True when every group after `after` is still held."""
        return after >= self._floor

    def collect(self, after: int, *, exclude_origin: str | None = None) -> dict[str, Crdt]:
        """The join, per object, of the groups after `after` that peer `exclude_origin` is
        not known to hold.

        Each object's deltas are joined by their kind's `join`, which never mutates a buffered
        delta and never drops one: the peer will acknowledge every group collected here.
        """
        parts: dict[str, list[Crdt]] = {}
        for group in self._groups_after(after):
            if exclude_origin is not None and exclude_origin in group.known:
                continue
            for name, delta in group.deltas.items():
                parts.setdefault(name, []).append(delta)
        return {name: type(deltas[0]).join(deltas) for name, deltas in parts.items()}

    def mark_known(self, after: int, peer: str, received: dict[str, Crdt]) -> int:
        """Record that `peer`, which sent us `received`, holds every group after `after`
        whose deltas `received` contains. Returns how many groups were marked."""
        marked = 0
        for group in self._groups_after(after):
            if peer in group.known:
                continue
            if all(_contains(received.get(name), d) for name, d in group.deltas.items()):
                group.known.add(peer)
                marked += 1
        return marked

    def _groups_after(self, after: int) -> list[DeltaGroup]:
        if not self._groups or after >= self._sequence:
            return []
        skip = max(0, after - self._groups[0].sequence + 1)
        return [self._groups[i] for i in range(skip, len(self._groups))]

    def discard_through(self, sequence: int) -> None:
        """Drop the groups with sequence <= `sequence` (all peers have them)."""
        while self._groups and self._groups[0].sequence <= sequence:
            self._drop_oldest()
        self._floor = max(self._floor, min(sequence, self._sequence))

    def _drop_oldest(self) -> None:
        group = self._groups.popleft()
        self._bytes -= group.size
        self._floor = max(self._floor, group.sequence)


def _contains(big: Crdt | None, small: Crdt) -> bool:
    if big is None or type(big) is not type(small):
        return False
    part = big.novel(small)
    return part is None or part.is_bottom()
