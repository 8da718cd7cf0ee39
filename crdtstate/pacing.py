"""When a burst of local updates lets other tasks run.

A schedule point costs several microseconds (a pass through the scheduler and an epoll
poll), which is most of what a small update costs once the update itself is O(change). So
`update` is always a cancellation point, but a schedule point only once `interval` seconds
have passed since this replica's last one: a task making updates in a tight loop still hands
over to pushes, subscribers and sockets about every millisecond, and a single update after any
pause (the common case outside benchmarks) still yields at once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel
import sniffio

SCHEDULE_INTERVAL = 0.001  # seconds a burst of updates may run between schedule points


class SchedulePacer:
    """Checkpoints for one replica's local updates (see the module doc)."""

    __slots__ = ("_last", "interval")

    def __init__(self, interval: float = SCHEDULE_INTERVAL) -> None:
        self.interval = interval
        self._last = -float("inf")

    def checkpoint(self) -> Awaitable[None]:
        """A cancellation point always; a schedule point when `interval` has passed.

        A plain function handing back what to await (not a coroutine of its own): on the hot
        path the caller awaits the backend's cancellation check directly, one coroutine fewer
        per update."""
        if time.perf_counter() - self._last < self.interval:
            if sniffio.thread_local.name == "trio":
                # trio's run loop set this in this thread, so trio is imported and running:
                # its own call, without anyio's per-call lookup of the backend (sniffio's
                # probes, a dict, a classmethod), which cost 4x as much. asyncio leaves the
                # name unset and keeps anyio's call: no trio call is ever bound to it.
                check = _trio_check
                if check is None:
                    check = _bind_trio()
                return check()
            return anyio.lowlevel.checkpoint_if_cancelled()
        return self._schedule()

    async def _schedule(self) -> None:
        await anyio.lowlevel.checkpoint()
        self._last = time.perf_counter()


_trio_check: Callable[[], Awaitable[None]] | None = None  # trio's, once trio has run here


def _bind_trio() -> Callable[[], Awaitable[None]]:
    global _trio_check
    _trio_check = sys.modules["trio"].lowlevel.checkpoint_if_cancelled
    return _trio_check
