"""The fault model of a simulated link, shared by the discrete-event network and the trio layer.

A link carries frames both ways with a latency drawn per frame, and may lose, duplicate and
reorder them (reordering comes from independent latencies; `fifo=True` keeps each direction in
order, as a TCP connection would). A cut link (a partition) loses everything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LinkModel:
    latency: float = 0.01  # seconds, the minimum one-way delay
    jitter: float = 0.02  # plus an exponential tail with this mean
    loss: float = 0.0  # probability a frame is lost
    duplicate: float = 0.0  # probability a delivered frame arrives twice
    fifo: bool = False  # True: no reordering within a direction

    def delays(self, rng: random.Random) -> list[float]:
        """The delays of the copies of one frame that arrive (none if it is lost)."""
        if self.loss and rng.random() < self.loss:
            return []
        copies = 2 if self.duplicate and rng.random() < self.duplicate else 1
        return [
            self.latency + rng.expovariate(1 / self.jitter) if self.jitter else self.latency
            for _ in range(copies)
        ]


RELIABLE = LinkModel()
