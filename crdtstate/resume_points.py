"""What a replica remembers of its sync with each peer, so a reconnect can resume instead of
exchanging whole digests (`antientropy.digests`: a `Claim`, answered by a `Resume`).

A `ResumePoint` is about one run of a peer (its incarnation) and this run of ours: the book
lives in memory with the replica, so a restarted replica (in memory or from its file) remembers
no peer and every peer resynchronises with it by digests. Sequence numbers of both sides only
mean something within one run, which is why a point names the peer's incarnation.

The book also holds groups back from garbage collection (`floor`): a remembered peer that
reconnects is served from the buffer, from where it was. That hold is bounded: a peer more than
`max_behind` groups behind, or one of more than `max_peers`, holds nothing back, and once the
buffer no longer serves it, its claim is refused and it resynchronises by digests.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_PEERS = 256
DEFAULT_MAX_BEHIND = 8192  # sequences: at most this many groups kept for absent peers


@dataclass(slots=True)
class ResumePoint:
    """Our sync with run `incarnation` of `peer`, in two numberings.

    The peer's sequences: `held`, we hold (applied, durable) every group of the peer's up to it.
    Ours: the peer acknowledged every group up to `acked`; it holds every one up to
    `known_held` (acknowledged, or left out of pushes because it is known to hold them); no
    range we sent it went beyond `sent`. Every field only grows within a run (`note`).
    """

    peer: str
    incarnation: int
    held: int = 0
    acked: int = 0
    known_held: int = 0
    sent: int = 0

    def note(self, *, held: int = 0, acked: int = 0, known_held: int = 0, sent: int = 0) -> None:
        """Raise the fields to these values (a session reports its progress as it goes)."""
        if held > self.held:
            self.held = held
        if acked > self.acked:
            self.acked = acked
        if known_held > self.known_held:
            self.known_held = known_held
        if sent > self.sent:
            self.sent = sent


class ResumePoints:
    """The book: peer id -> the `ResumePoint` of the peer's latest run we synced with."""

    def __init__(
        self, *, max_peers: int = DEFAULT_MAX_PEERS, max_behind: int = DEFAULT_MAX_BEHIND
    ) -> None:
        self._points: dict[str, ResumePoint] = {}  # oldest opened first (LRU order)
        self.max_peers = max_peers
        self.max_behind = max_behind

    def __len__(self) -> int:
        return len(self._points)

    def get(self, peer: str) -> ResumePoint | None:
        return self._points.get(peer)

    def open(self, peer: str, incarnation: int) -> tuple[ResumePoint, bool]:
        """The point of this run of `peer` for a new session, and whether it is one we knew
        (False: a fresh point, replacing any of the peer's earlier runs)."""
        point = self._points.pop(peer, None)
        known = point is not None and point.incarnation == incarnation
        if point is None or not known:
            point = ResumePoint(peer, incarnation)
        self._points[peer] = point
        while len(self._points) > self.max_peers:
            del self._points[next(iter(self._points))]
        return point, known

    def restart(self, point: ResumePoint) -> ResumePoint:
        """Start the record of `point`'s peer over (a fresh object, so a session still holding
        the old one updates nothing): the peer does not remember us as we remember it."""
        fresh = ResumePoint(point.peer, point.incarnation)
        if self._points.get(point.peer) is point:
            self._points[point.peer] = fresh
        return fresh

    def floor(self, sequence: int) -> int | None:
        """The sequence after which buffered groups must stay for remembered peers to resume
        (None: none need any), given our newest `sequence`. Peers further behind than
        `max_behind` hold nothing back, nor those we never sent anything."""
        lowest = sequence - self.max_behind
        needs = [p.known_held for p in self._points.values() if p.sent and p.known_held >= lowest]
        return min(needs) if needs else None
