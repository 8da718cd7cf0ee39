"""Change notifications: a broadcast feed whose subscribers never block the publisher.

Each subscriber has a bounded queue. When it is full, the newest change is folded into the
last queued one (the latest value, the earliest `previous`, and a count of skipped changes), so
a slow reader costs bounded memory and still ends up seeing the current value.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import anyio

from ..types.clocks import VersionVector
from ..types.snapshots import KeyChanges

DEFAULT_QUEUE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Change:
    """One observed change: `origin` is the replica whose update (or sending peer) caused it.

    For sets and maps, `keys` says which elements or keys were added, removed or changed
    between `previous` and `value`, so a subscriber need not diff whole states (None for
    other kinds).
    """

    value: Any
    previous: Any
    origin: str
    version: VersionVector
    skipped: int = 0
    keys: KeyChanges | None = None

    @classmethod
    def of(cls, value: Any, previous: Any, origin: str, version: VersionVector) -> Change:
        return cls(value, previous, origin, version, keys=KeyChanges.between(previous, value))


class Subscription:
    """An async iterator of the changes published after it was opened."""

    def __init__(self, maxsize: int) -> None:
        self._queue: deque[Change] = deque()
        self._maxsize = max(1, maxsize)
        self._ready = anyio.Event()
        self.closed = False

    def _offer(self, change: Change) -> None:
        if len(self._queue) >= self._maxsize:
            last = self._queue.pop()
            change = replace(
                change,
                previous=last.previous,
                skipped=last.skipped + 1,
                keys=KeyChanges.between(last.previous, change.value),
            )
        self._queue.append(change)
        self._ready.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Change:
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            await self._ready.wait()
            self._ready = anyio.Event()
        return self._queue.popleft()

    def pending(self) -> int:
        return len(self._queue)


class ChangeFeed:
    """The publishing side: `publish` is synchronous and O(subscribers), never waits."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        # read on every update (`if feed.subscribers`): a value is computed only for them
        self.subscribers: set[Subscription] = set()
        self._queue_size = queue_size

    def publish(self, change: Change) -> None:
        for subscription in self.subscribers:
            subscription._offer(change)

    def __len__(self) -> int:
        return len(self.subscribers)

    @asynccontextmanager
    async def subscribe(self, queue_size: int | None = None) -> AsyncIterator[Subscription]:
        subscription = Subscription(queue_size or self._queue_size)
        self.subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self.subscribers.discard(subscription)

    def close(self) -> None:
        """End every subscriber's iteration once it has drained its queue."""
        for subscription in self.subscribers:
            subscription.closed = True
            subscription._ready.set()
