"""Retransmission: what a session resends when the peer stays silent, and when.

Whatever the peer has not confirmed is resent after a timeout that doubles while the peer
stays silent, up to a cap: the hello until the peer's arrives, the digest until the peer
answers it (or sends its own), a claim until its verdict arrives, unacknowledged deltas from
the last acknowledgement; a lost answer to the peer's digest restarts the digest exchange
(`_resync`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import SessionState, SessionStats
from .window import PushWindow


class RetransmitClock:
    """`timeout()` after the first `after` seconds doubles with every round the peer stays
    silent (`bump`), up to `cap` (default 8 x `after`); anything from the peer resets it."""

    __slots__ = ("_after", "_cap", "silent_rounds")

    def __init__(self, after: float, cap: float | None = None) -> None:
        self._after = after
        self._cap = cap or 8 * after
        self.silent_rounds = 0  # timeouts since the peer last said anything

    @property
    def after(self) -> float:
        return self._after

    def timeout(self) -> float:
        return min(self._after * 2**self.silent_rounds, self._cap)

    def due(self, since: float, now: float) -> bool:
        """Whether a wait that began at `since` has timed out (the same sum a deadline
        uses, so there is no rounding gap between the two)."""
        return now >= since + self.timeout()

    def bump(self) -> None:
        self.silent_rounds += 1

    def heard(self) -> None:
        self.silent_rounds = 0


class Retransmission:
    """The retransmission half of `PeerSession` (a mixin: the state lives in the session)."""

    state: SessionState
    stats: SessionStats
    window: PushWindow
    _clock: RetransmitClock
    _hello_at: float
    _digest_at: float
    _awaiting_answer: bool
    _ack_due: bool
    _ack_due_since: float | None
    _ack_delay: float

    if TYPE_CHECKING:  # provided by PeerSession and Handshake

        def _queue_hello(self) -> None: ...

        def _send_digest(self, *, reply: bool, now: float) -> None: ...

        def _pull_again(self, now: float) -> None: ...

    def next_deadline(self) -> float | None:
        """When `data_to_send` should be called again even if nothing happens."""
        waits = self._waiting_since()
        deadline = min(waits) + self._clock.timeout() if waits else None
        if self._ack_due and self._ack_due_since is not None:
            ack_at = self._ack_due_since + self._ack_delay
            deadline = ack_at if deadline is None else min(deadline, ack_at)
        return deadline

    def _waiting_since(self) -> list[float]:
        """The start times of whatever we are waiting for the peer to confirm."""
        if self.state in (SessionState.AWAIT_HELLO, SessionState.AWAIT_AUTH):
            return [self._hello_at]
        if self.state is not SessionState.OPEN:
            return []
        window = self.window
        waits = []
        if self._awaiting_answer or not window.serving:
            waits.append(self._digest_at)
        if window.serving and window.in_flight():
            waits.append(window.push_at)
        return waits

    def _retransmit_due(self, now: float) -> None:
        if self.state in (SessionState.AWAIT_HELLO, SessionState.AWAIT_AUTH):
            if self._clock.due(self._hello_at, now):
                self._bump(now)
                self._hello_at = now
                self._queue_hello()
            return
        window = self.window
        if (self._awaiting_answer or not window.serving) and self._clock.due(self._digest_at, now):
            self._bump(now)
            self._pull_again(now)
        if window.serving and window.in_flight() and self._clock.due(window.push_at, now):
            self._bump(now)
            if window.acked < window.answered:
                self._resync(now)  # the answer to the peer's digest itself was lost
            else:
                window.go_back(now)

    def _bump(self, now: float) -> None:
        self.stats.retransmits += 1
        self._clock.bump()

    def _resync(self, now: float) -> None:
        """Stop pushing and ask for the peer's digest; answering it restarts the pushes."""
        self.stats.resyncs += 1
        self.window.serving = False
        self._send_digest(reply=True, now=now)
