"""Hybrid logical clocks (Kulkarni et al. 2014) for last-writer-wins registers.

A timestamp is (l, c): `l` follows the largest wall-clock time seen (physical or received) and
`c` counts events within the same `l`. It stays close to the wall clock, never runs backwards
even when the wall clock does, and always exceeds every timestamp the process has received,
so a write that has seen another write is ordered after it. Ties across replicas are broken by
replica id, which makes the last-writer-wins join commutative.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple


def wall_clock_micros() -> int:
    return time.time_ns() // 1000


class Timestamp(NamedTuple):
    """Ordered by (l, c, replica): total, so that concurrent writes resolve the same way."""

    l: int  # noqa: E741 - the paper's name
    c: int
    replica: str


class HybridLogicalClock:
    """The process's (l, c) pair; `now` for a local event, `update` on receiving a timestamp.

    `wall` is injectable so tests can run the clock backwards, freeze it, or race it ahead.
    """

    __slots__ = ("c", "l", "wall")

    def __init__(self, wall: Callable[[], int] = wall_clock_micros) -> None:
        self.wall = wall
        self.l = 0
        self.c = 0

    def now(self, replica: str) -> Timestamp:
        """A timestamp for a local event, greater than every one this clock has produced."""
        l, c = self.tick()  # noqa: E741 - the paper's name
        return Timestamp(l, c, replica)

    def update(self, remote: tuple[int, int], replica: str) -> Timestamp:
        """Receive `remote` (l, c): the clock moves past it; returns the receive event's stamp."""
        l, c = self.tick(remote)  # noqa: E741
        return Timestamp(l, c, replica)

    def tick(self, remote: tuple[int, ...] | None = None) -> tuple[int, int]:
        """`now` (no `remote`) or `update` (its first two items are (l, c)) as a plain (l, c):
        what a register write stores, without a `Timestamp` to build and take apart."""
        wall = self.wall
        # the default wall inline (no Python frame): every register write ticks
        return self.tick_at(time.time_ns() // 1000 if wall is wall_clock_micros else wall(), remote)

    def tick_at(self, physical: int, remote: tuple[int, ...] | None = None) -> tuple[int, int]:
        """`tick` with the wall clock read as `physical` (a map put reads it itself, to take
        the common case below without a call)."""
        if remote is None:
            if physical > self.l:
                self.l, self.c = physical, 0
            else:
                self.c += 1
            return self.l, self.c
        rl = remote[0]
        if physical > rl and physical > self.l:  # the wall moved past both: the common case
            self.l, self.c = physical, 0
            return physical, 0
        rc = remote[1]
        top = max(self.l, rl, physical)
        if top == self.l == rl:
            self.c = max(self.c, rc) + 1
        elif top == self.l:
            self.c += 1
        elif top == rl:
            self.c = rc + 1
        else:
            self.c = 0
        self.l = top
        return top, self.c

    def __repr__(self) -> str:
        return f"HybridLogicalClock(l={self.l}, c={self.c})"


_PROCESS_CLOCK = HybridLogicalClock()


def process_clock() -> HybridLogicalClock:
    """The clock registers use when none is passed: one per process, as the paper assumes."""
    return _PROCESS_CLOCK
