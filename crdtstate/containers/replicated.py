"""A replicated container: the `LockedContainer` API over one named CRDT of a replica."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ..types import Crdt
from ..types.causal import CausalCrdt, KeyedSavepoint
from ..types.clocks import VersionVector
from ..types.putdelta import PutDelta
from ..types.yjs.clientids import ClientIdAllocator
from ..updaters import PLAIN_TYPES, refuse_awaitable
from . import handle_registry
from .changes import ChangeFeed, Subscription
from .handle_registry import HandleFactory, handle_factory, handle_for

C = TypeVar("C", bound=Crdt)


class ObjectHost(Protocol):
    """What a container needs of the replica holding its object (`Replica` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def writer(self) -> str:
        """The name this run's updates are written under (dots, counter entries)."""

    @property
    def client_ids(self) -> ClientIdAllocator: ...

    def check_open(self) -> None: ...

    def state_of(self, name: str) -> Crdt: ...

    def live_state(self, name: str) -> Crdt:
        """`check_open()`, then `state_of(name)`."""

    def commit_local(self, name: str, previous: Any, delta: Crdt) -> Awaitable[Any]:
        """Record the delta of an update already applied in place (`previous`: the value
        before it, or None when nobody subscribes); what to await before the update returns."""


class ReplicatedContainer(Generic[C]):
    """`get`, `update`, `subscribe` and `version` for the object `name` of `replica`.

    `update(updater)` hands the updater a handle bound to the replica's writer name (a
    `MutableSet` for sets, a `MutableMapping` for maps, `increment` / `decrement` for counters,
    `value` for registers, `enable` / `disable` for flags). The updater mutates the state in
    place under a savepoint (which saves only what it touches), so an updater that raises
    changes nothing; the deltas of one call become one delta-group.
    """

    def __init__(self, replica: ObjectHost, name: str, kind: type[C]) -> None:
        self._replica = replica
        self.name = name
        self.kind = kind
        self.feed = ChangeFeed()
        self._plan = _NO_PLAN

    @property
    def version(self) -> VersionVector:
        return self._replica.state_of(self.name).version

    @property
    def state(self) -> C:
        """The live CRDT, for readers that must not copy it (the Yjs endpoint reads a
        document's state vector and listens to its updates). Mutate it only via `update`."""
        return self._replica.state_of(self.name)  # type: ignore[return-value]

    async def get(self) -> Any:
        return self._replica.state_of(self.name).value

    def local_state(self) -> C:
        """The replica's live state object, for reads that need more than `value` (e.g. at a
        given time) and for local maintenance such as expiry collection. Do not mutate it
        except through `update`: a change made here is never sent to peers."""
        return self._replica.state_of(self.name)  # type: ignore[return-value]

    async def update(self, updater: Callable[[Any], Any]) -> Any:
        replica = self._replica
        state = replica.live_state(self.name)
        plan = self._plan
        if plan.cls is not type(state) or plan.generation != handle_registry.generation:
            plan = self._plan = UpdatePlan.of(type(state))
        previous = state.value if self.feed.subscribers else None
        deltas: list[Crdt] = []
        # a keyed causal type's savepoint, without the dispatch (`CausalCrdt.savepoint`)
        savepoint = KeyedSavepoint(state) if plan.keyed else state.savepoint()
        try:
            handle = plan.factory(state, replica.writer, deltas.append)
            if plan.plain:  # the common case, without an `updating` context
                result = updater(handle)
                if type(result) not in PLAIN_TYPES:  # (`refuse_awaitable`'s own first test)
                    refuse_awaitable(result, updater)
            else:
                with state.updating(replica.writer, deltas.append, replica.client_ids):
                    refuse_awaitable(updater(handle), updater)
        except BaseException:
            savepoint.restore()
            raise
        finally:
            if plan.keyed:
                state._savepoint = None  # type: ignore[attr-defined]  # `KeyedSavepoint.close`
            else:
                savepoint.close()
        if len(deltas) == 1:  # one mutation, the common case: nothing to join
            group = deltas[0]
            if isinstance(group, PutDelta) or not group.is_bottom():  # a put is never bottom
                await replica.commit_local(self.name, previous, group)
        elif deltas:
            group = _join_all(deltas)
            if not group.is_bottom():
                await replica.commit_local(self.name, previous, group)
        return state.value

    @asynccontextmanager
    async def subscribe(self, queue_size: int | None = None) -> AsyncIterator[Subscription]:
        async with self.feed.subscribe(queue_size) as changes:
            yield changes

    def __repr__(self) -> str:
        return f"<ReplicatedContainer {self.name!r} {self.kind.__name__} of {self._replica.id!r}>"


@dataclass(frozen=True, slots=True)
class UpdatePlan:
    """What `update` does for states of one class, looked up once per class (and again
    after a handle is registered) instead of on every update."""

    cls: type[Crdt] | None
    generation: int  # `handle_registry.generation` when made
    factory: HandleFactory
    keyed: bool  # its savepoint is `CausalCrdt.savepoint`'s `KeyedSavepoint`
    plain: bool  # no `updating` context around the updater

    @classmethod
    def of(cls, kind: type[Crdt]) -> UpdatePlan:
        keyed = kind.savepoint is CausalCrdt.savepoint and bool(getattr(kind, "keyed", False))
        return cls(
            kind,
            handle_registry.generation,
            handle_factory(kind),
            keyed,
            kind.updating is Crdt.updating,
        )


_NO_PLAN = UpdatePlan(None, -1, handle_for, keyed=False, plain=False)


def _join_all(deltas: list[Crdt]) -> Crdt:
    """One delta-group from the deltas of one update (at least two), joined into the first."""
    group = deltas[0]
    for delta in deltas[1:]:
        group.merge(delta)
    return group
