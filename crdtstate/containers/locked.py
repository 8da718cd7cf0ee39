"""The lock-based baseline container of the seed `state-container-pattern.md`.

A plain Python value behind a `anyio.Lock`, with version, history, compare-and-swap and
rollback. Replicated containers keep its `get` / `update` / `subscribe` / `version` shape, so
code written against this one runs unchanged against them.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import anyio

from ..errors import NoHistoryError
from ..types.clocks import VersionVector
from ..updaters import refuse_awaitable
from .changes import Change, ChangeFeed, Subscription

S = TypeVar("S")
Updater = Callable[[Any], Any]


def apply_updater(updater: Updater, value: Any) -> Any:
    """Run `updater` on a private copy: it mutates the copy in place or returns a new value
    (an awaitable is refused with `AsyncUpdaterError`)."""
    working = copy.deepcopy(value)
    result = updater(working)
    refuse_awaitable(result, updater)
    return working if result is None else result


class LockedContainer(Generic[S]):
    """One process's state behind a lock: the single-node container the product replicates."""

    def __init__(self, initial: S, *, history_size: int = 100, replica_id: str = "local") -> None:
        self._value: S = initial
        self._lock = anyio.Lock()
        self._feed = ChangeFeed()
        self._history: deque[S] = deque(maxlen=history_size)
        self._replica_id = replica_id
        self._version = VersionVector()

    @property
    def version(self) -> VersionVector:
        """One entry for this container, bumped by every update (comparable with `<=`)."""
        return self._version

    async def get(self) -> S:
        return copy.deepcopy(self._value)

    async def update(self, updater: Updater) -> S:
        """Apply `updater` atomically; if it raises, the state is unchanged and it propagates."""
        async with self._lock:
            new_value = apply_updater(updater, self._value)
            self._commit(new_value)
            return copy.deepcopy(new_value)

    async def compare_and_swap(self, expected: S, updater: Updater) -> bool:
        """Apply `updater` only if the current value equals `expected`."""
        async with self._lock:
            if self._value != expected:
                return False
            self._commit(apply_updater(updater, self._value))
            return True

    async def rollback(self, steps: int = 1) -> S:
        """Restore the value held `steps` updates ago (itself recorded as a change)."""
        async with self._lock:
            if steps < 1 or steps > len(self._history):
                raise NoHistoryError(
                    f"cannot roll back {steps} steps: history holds {len(self._history)}"
                )
            target = self._history[-steps]
            for _ in range(steps):
                self._history.pop()
            self._commit(target, record_history=False)
            return copy.deepcopy(target)

    def history(self) -> list[S]:
        """Earlier values, oldest first (bounded by `history_size`)."""
        return [copy.deepcopy(v) for v in self._history]

    @asynccontextmanager
    async def subscribe(self, queue_size: int | None = None) -> AsyncIterator[Subscription]:
        async with self._feed.subscribe(queue_size) as changes:
            yield changes

    def _commit(self, new_value: S, *, record_history: bool = True) -> None:
        previous = self._value
        if record_history:
            self._history.append(previous)
        self._value = new_value
        self._version = self._version.increment(self._replica_id)
        if len(self._feed):
            self._feed.publish(
                Change(
                    value=copy.deepcopy(new_value),
                    previous=copy.deepcopy(previous),
                    origin=self._replica_id,
                    version=self._version,
                )
            )
