"""Which of a peer's sequence numbers we hold, when frames may be lost, duplicated or reordered.

A delta frame covers the sender's groups in a range (since, upto]. We may acknowledge only the
contiguous prefix we hold: acknowledging past a gap would tell the sender to drop groups we
never got. Ranges received beyond a gap are remembered (a few) so that the retransmission
filling the gap acknowledges them too.
"""

from __future__ import annotations

MAX_PENDING_RANGES = 64


class ReceivedRanges:
    __slots__ = ("_pending", "upto")

    def __init__(self) -> None:
        self.upto = 0  # every group of the peer's with sequence <= upto is held
        self._pending: list[tuple[int, int]] = []  # disjoint (since, upto] ranges above a gap

    def add(self, since: int, upto: int) -> bool:
        """Record that groups (since, upto] are held; return whether `upto` advanced."""
        before = self.upto
        if since <= self.upto:
            self.upto = max(self.upto, upto)
        else:
            self._pending.append((since, upto))
        kept: list[tuple[int, int]] = []
        for lo, hi in sorted(self._pending):
            if lo <= self.upto:
                self.upto = max(self.upto, hi)
            elif kept and lo <= kept[-1][1]:
                kept[-1] = (kept[-1][0], max(kept[-1][1], hi))
            else:
                kept.append((lo, hi))
        self._pending = kept[:MAX_PENDING_RANGES]  # forgetting one costs a retransmission
        return self.upto > before
