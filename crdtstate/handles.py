"""What an updater receives: Python-protocol views whose mutators are bound to the replica.

Each mutation is applied to the state the handle wraps and its delta goes to `record`, so the
deltas of one `update` call become one delta-group without the caller naming a replica id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableSet
from typing import Any

from .types import AWSet, Crdt, GCounter, PNCounter

Record = Callable[[Crdt], None]


class CounterHandle:
    """`increment(n=1)` / `decrement(n=1)` on a GCounter or PNCounter."""

    __slots__ = ("_record", "_replica", "_state")

    def __init__(self, state: GCounter | PNCounter, replica: str, record: Record) -> None:
        self._state = state
        self._replica = replica
        self._record = record

    @property
    def value(self) -> int:
        return self._state.value

    def increment(self, n: int = 1) -> None:
        self._record(self._state.increment(n, replica=self._replica))

    def decrement(self, n: int = 1) -> None:
        if isinstance(self._state, GCounter):
            # Raises the GCounter's own clear error for a negative amount.
            self._record(self._state.increment(-n, replica=self._replica))
            return
        self._record(self._state.decrement(n, replica=self._replica))

    def __int__(self) -> int:
        return self._state.value

    def __index__(self) -> int:
        return self._state.value

    def __eq__(self, other: object) -> bool:
        return self._state.value == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<counter {self._state.value}>"


class SetHandle(MutableSet[Any]):
    """An AWSet seen as a `collections.abc.MutableSet`."""

    __slots__ = ("_record", "_replica", "_state")

    def __init__(self, state: AWSet, replica: str, record: Record) -> None:
        self._state = state
        self._replica = replica
        self._record = record

    def __contains__(self, element: object) -> bool:
        return element in self._state

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._state.store.entries))

    def __len__(self) -> int:
        return len(self._state.store)

    def add(self, element: Any) -> None:
        self._record(self._state.add(element, replica=self._replica))

    def discard(self, element: Any) -> None:
        if element in self._state:
            self._record(self._state.remove(element, replica=self._replica))

    def clear(self) -> None:
        if len(self._state.store):
            self._record(self._state.clear(replica=self._replica))

    def __repr__(self) -> str:
        return f"<set {set(self._state.value)!r}>"
