"""The retransmission timeout of a session: doubles while the peer stays silent, up to a cap."""

from __future__ import annotations


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
