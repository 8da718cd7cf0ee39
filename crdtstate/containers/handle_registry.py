"""Which handle an updater receives for each CRDT class: the kind-to-handle registry.

The types know nothing of containers. A handle is registered next to its code
(`register_handle(GCounter, CounterHandle)` at the end of `handles.py`), and a class inherits
the handle of its nearest registered base (a declared `ORMap[str, PNCounter]` gets the map's).
A class with none gets a `MutatorHandle`: its mutators with the replica bound, so a new type
works in a container with no handle written for it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..types import Crdt

Record = Callable[[Crdt], None]
HandleFactory = Callable[[Any, str, Record], Any]

_registered: dict[type[Crdt], HandleFactory] = {}
_resolved: dict[type[Crdt], HandleFactory] = {}  # per concrete class, the MRO walked once


generation = 0  # bumped by every registration: what callers caching a factory compare


def register_handle(cls: type[Crdt], factory: HandleFactory) -> None:
    """Hand updaters of `cls` (and its subclasses) `factory(state, replica, record)`."""
    global generation
    _registered[cls] = factory
    _resolved.clear()
    generation += 1


def handle_factory(cls: type[Crdt]) -> HandleFactory:
    """What makes the handles of `cls`: its own, or its nearest registered base's."""
    factory = _resolved.get(cls)
    if factory is None:
        factory = next((_registered[c] for c in cls.__mro__ if c in _registered), MutatorHandle)
        _resolved[cls] = factory
    return factory


def handle_for(state: Crdt, replica: str, record: Record) -> Any:
    """The object an updater receives: mutators bound to `replica`, deltas to `record`."""
    return handle_factory(type(state))(state, replica, record)


class MutatorHandle:
    """The handle of a class with none registered: `h.m(*args)` calls the state's mutator
    `m(*args, replica=...)` and records the delta it returns; `value` reads the state."""

    __slots__ = ("_record", "_replica", "_state")

    def __init__(self, state: Crdt, replica: str, record: Record) -> None:
        self._state = state
        self._replica = replica
        self._record = record

    @property
    def state(self) -> Crdt:
        return self._state

    @property
    def value(self) -> Any:
        return self._state.value

    def __getattr__(self, name: str) -> Callable[..., None]:
        method = None if name.startswith("_") else getattr(self._state, name, None)
        if not callable(method) or "replica" not in inspect.signature(method).parameters:
            raise AttributeError(f"{type(self._state).__name__} has no mutator {name!r}")

        def mutate(*args: Any, **kwargs: Any) -> None:
            self._record(method(*args, replica=self._replica, **kwargs))

        return mutate

    def __repr__(self) -> str:
        return f"<{type(self._state).__name__} {self._state.value!r}>"
