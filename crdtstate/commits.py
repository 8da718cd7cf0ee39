"""How far a durable replica's journal has committed its local groups: what `wait_durable`
waits for."""

from __future__ import annotations

import anyio


class CommitProgress:
    """Local groups handed to the journal and committed so far.

    The event a waiter sleeps on is made only when someone waits and dropped at the next
    commit: making one per commit (each resolving the async backend) cost more than a small
    update."""

    __slots__ = ("_event", "closed", "committed", "submitted")

    def __init__(self) -> None:
        self.submitted = 0
        self.committed = 0
        self.closed = False
        self._event: anyio.Event | None = None

    def commit(self) -> None:
        self.committed += 1
        event = self._event
        if event is not None:
            self._event = None
            event.set()

    def close(self) -> None:
        """Wake every waiter for good (the replica closed)."""
        self.closed = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        """Until every group submitted before this call is committed, or the replica closed."""
        target = self.submitted
        while self.committed < target and not self.closed:
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()
