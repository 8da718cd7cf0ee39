"""A replica: one process's copy of a set of named CRDTs, and the delta buffer that feeds
anti-entropy. Local updates never wait for the network; remote deltas are joined (only their
novel part is kept, the RR step) and announced to subscribers with the sending peer as origin.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio

from .buffer import DeltaBuffer
from .changes import Change
from .errors import KindMismatchError, ReplicaClosedError
from .replica_state import ReplicaState
from .replicated import ReplicatedContainer
from .types import Crdt

log = logging.getLogger(__name__)
C = TypeVar("C", bound=Crdt)


class Replica:
    """Hold named CRDT objects, number their delta-groups, and notify their containers."""

    def __init__(self, replica_id: str, *, buffer: DeltaBuffer | None = None) -> None:
        self.state = ReplicaState(replica_id, buffer=buffer)
        self.id = replica_id
        self.incarnation = self.state.incarnation
        self.buffer = self.state.buffer
        self._objects = self.state.objects
        self._containers: dict[str, ReplicatedContainer[Any]] = {}
        self._grew = trio.Event()
        self._closed = False

    @classmethod
    @asynccontextmanager
    async def open(cls, replica_id: str | None = None) -> AsyncIterator[Replica]:
        """An in-memory replica for the duration of the block.

        Without an id a fresh random one is used. An in-memory replica must not reuse the id
        of an earlier run whose updates reached peers: its counters restart from zero.
        """
        replica = cls(replica_id or uuid.uuid4().hex[:12])
        try:
            yield replica
        finally:
            replica.close()

    def close(self) -> None:
        self._closed = True
        for container in self._containers.values():
            container.feed.close()
        self._grew.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ReplicaClosedError(f"replica {self.id!r} is closed")

    # -- containers -------------------------------------------------------------------------

    def container(self, name: str, kind: type[C]) -> ReplicatedContainer[C]:
        """The replicated container for object `name` of CRDT class `kind` (created empty)."""
        self._check_open()
        existing = self._objects.get(name)
        if existing is not None and type(existing) is not kind:
            raise KindMismatchError(
                f"object {name!r} is a {existing.kind}, not a {getattr(kind, 'kind', kind)}"
            )
        if existing is None:
            self._objects[name] = kind()
        container = self._containers.get(name)
        if container is None:
            container = self._containers[name] = ReplicatedContainer(self, name, kind)
        return container

    def _state_of(self, name: str) -> Crdt:
        return self._objects[name]

    def names(self) -> list[str]:
        return sorted(self._objects)

    def kind_of(self, name: str) -> str | None:
        obj = self._objects.get(name)
        return obj.kind if obj is not None else None

    def snapshot(self, name: str) -> Crdt | None:
        """A copy of the state of `name`, whether or not it was opened locally."""
        obj = self._objects.get(name)
        return obj.copy() if obj is not None else None

    # -- local updates ----------------------------------------------------------------------

    async def _commit_local(self, name: str, new_state: Crdt, delta: Crdt) -> None:
        previous = self._objects[name]
        self.state.commit_local(name, new_state, delta)
        self._announce(name, previous.value, new_state, origin=self.id)
        self._wake()
        await trio.lowlevel.checkpoint()

    # -- remote deltas ----------------------------------------------------------------------

    async def apply_remote(self, deltas: dict[str, Crdt], origin: str) -> int | None:
        """Join deltas from peer `origin`; buffer and announce only what was new.

        All entries are checked before any is joined, so a group with a kind conflict changes
        nothing. Returns the sequence number given to the novel part, or None if nothing was new.
        """
        self._check_open()
        watched = {name for name, c in self._containers.items() if len(c.feed)}
        sequence, previous = self.state.join_remote(deltas, origin, watched=watched)
        for name, value in previous.items():
            self._announce(name, value, self._objects[name], origin=origin)
        await trio.lowlevel.checkpoint()
        if sequence is not None:
            self._wake()
        return sequence

    def _announce(self, name: str, previous: Any, state: Crdt, *, origin: str) -> None:
        container = self._containers.get(name)
        if container is not None and len(container.feed):
            container.feed.publish(
                Change(value=state.value, previous=previous, origin=origin, version=state.version)
            )

    # -- what anti-entropy reads --------------------------------------------------------------

    def object_digests(self) -> dict[str, tuple[str, Any]]:
        """Per object: (kind, digest), for a digest exchange."""
        return self.state.object_digests()

    def deltas_since(self, digests: dict[str, tuple[str, Any]]) -> dict[str, Crdt]:
        """What a peer with these per-object digests lacks, object by object."""
        return self.state.deltas_since(digests)

    def digest(self) -> str:
        """A fingerprint of the whole state: equal on two replicas exactly when states are."""
        return self.state.digest()

    # -- waiting for growth ---------------------------------------------------------------------

    def _wake(self) -> None:
        self._grew.set()
        self._grew = trio.Event()

    async def wait_beyond(self, sequence: int) -> int:
        """Wait until the buffer holds a group after `sequence` (or the replica closes)."""
        while self.buffer.sequence <= sequence and not self._closed:
            await self._grew.wait()
        return self.buffer.sequence
