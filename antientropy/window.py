"""The sending side of a session: which of our groups the peer holds, and which are in flight.

In our own sequence numbers. `acked` is A[j] of Almeida et al.: the peer acknowledged every
group up to it. `sent` is the end of what was pushed; groups in (sent, considered] were looked
at and are all held by the peer already (back-propagation), so the next push starts after
`considered`. `answered` is our sequence when we answered the peer's digest. `push_at` starts
the retransmission clock of whatever is in flight. `pushes` holds the end of each push the
peer has not acknowledged yet: a session that caps them makes deltas wait, joined, while the
peer is busy, so the busier the link, the larger and fewer the frames.
"""

from __future__ import annotations


class PushWindow:
    __slots__ = (
        "acked",
        "answered",
        "considered",
        "known_held",
        "push_at",
        "pushes",
        "sent",
        "serving",
    )

    def __init__(self, now: float) -> None:
        self.sent = 0  # highest of our sequences pushed to the peer
        self.acked = 0  # highest the peer acknowledged (A[j])
        self.answered = 0  # our sequence when we last answered the peer's digest
        self.serving = False  # we answered the peer's digest: push from then on
        self.considered = 0  # groups in (sent, considered] are all held by the peer
        self.known_held = 0  # the peer holds every group up to here (acked or skipped)
        self.push_at = now  # last push sent with nothing in flight, or last ack progress
        self.pushes: list[int] = []  # the `upto` of each push not acknowledged yet, ascending

    def in_flight(self) -> bool:
        return self.acked < self.sent

    def full(self, cap: int | None) -> bool:
        """Whether `cap` pushes (None: no cap) are unacknowledged, so the next must wait."""
        return cap is not None and len(self.pushes) >= cap

    def start(self) -> int:
        """Where the next push starts: groups up to here were sent or are held by the peer."""
        return max(self.sent, self.considered)

    def needs_from(self) -> int:
        """The sequence after which the peer may still need buffered groups."""
        return max(self.acked, self.answered, self.known_held)

    def answered_digest(self, upto: int, now: float) -> None:
        """Our answer to the peer's digest covers everything up to `upto`: push from there."""
        self.answered = self.sent = self.considered = upto
        self.serving = True
        self.push_at = now
        self.pushes = [upto] if upto > self.acked else []

    def acknowledged(self, upto: int, now: float) -> None:
        """The peer holds every group up to `upto` (an ack; never beyond our sequence)."""
        if upto > self.acked:
            self.acked = upto
            self.sent = max(self.sent, upto)
            self.considered = max(self.considered, upto)
            self.known_held = max(self.known_held, upto if self.in_flight() else self.considered)
            self.push_at = now
            if self.pushes and self.pushes[0] <= upto:
                self.pushes = [p for p in self.pushes if p > upto]

    def considered_through(self, upto: int, *, found: bool) -> None:
        """Groups up to `upto` were collected for a push; `found` is whether any were not
        held by the peer (with none found and nothing in flight, the peer holds them all)."""
        self.considered = upto
        if not found and not self.in_flight():
            self.known_held = upto

    def pushed(self, upto: int, now: float) -> None:
        """A push covering (sent, upto] went out."""
        if not self.in_flight():
            self.push_at = now  # the retransmission clock starts with the first in flight
        self.sent = upto
        self.pushes.append(upto)

    def go_back(self, now: float) -> None:
        """Resend from the last acknowledgement, skipping what is known held (those groups
        may already be collected)."""
        self.sent = self.acked
        self.considered = max(self.acked, self.known_held)
        self.push_at = now
        self.pushes = []

    def resumed(self, start: int, now: float) -> None:
        """The peer holds every group up to `start` (its claim, checked): push from there."""
        self.acked = self.known_held = max(self.acked, start)
        self.answered = self.sent = self.considered = self.acked
        self.serving = True
        self.push_at = now
        self.pushes = []
