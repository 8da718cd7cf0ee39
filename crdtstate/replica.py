"""A replica: one process's copy of a set of named CRDTs, and the delta buffer that feeds
anti-entropy. Local updates never wait for the network; remote deltas are joined (only their
novel part is kept, the RR step) and announced to subscribers with the sending peer as origin.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio

from . import codec
from .buffer import DeltaBuffer
from .changes import Change
from .clientids import ClientIdAllocator
from .errors import DecodeError, KindMismatchError, ProtocolError, ReplicaClosedError
from .replicated import ReplicatedContainer
from .types import KINDS, Crdt

log = logging.getLogger(__name__)
C = TypeVar("C", bound=Crdt)


class Replica:
    """Hold named CRDT objects, number their delta-groups, and notify their containers."""

    def __init__(self, replica_id: str) -> None:
        if not isinstance(replica_id, str) or not replica_id or len(replica_id) > 256:
            raise ValueError("a replica id is a non-empty string of at most 256 characters")
        self.id = replica_id
        self.incarnation = secrets.randbits(63)
        # Yjs client ids of this run's document edits; a durable replica passes a stored,
        # bumped-per-open counter as the epoch instead (see clientids.py).
        self.client_ids = ClientIdAllocator(self.id, epoch=self.incarnation)
        self.buffer = DeltaBuffer()
        self._objects: dict[str, Crdt] = {}
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

    def container(self, name: str, kind: type[C] | C) -> ReplicatedContainer[C]:
        """The replicated container for object `name` of CRDT class `kind` (created empty).

        `kind` may be declared (`ORMap[str, PNCounter]`, `LWWRegister[Config]`) or be an empty
        instance (`ORMap(value=PNCounter)`). An object that reached this replica from a peer
        before it was opened here is adopted if it fits the declaration.
        """
        self._check_open()
        cls: type[C] = type(kind) if isinstance(kind, Crdt) else kind
        existing = self._objects.get(name)
        if existing is not None and type(existing) is not cls:
            self._objects[name] = self._adopt(name, existing, cls)
        if existing is None:
            self._objects[name] = cls()
        container = self._containers.get(name)
        if container is None:
            container = self._containers[name] = ReplicatedContainer(self, name, cls)
        elif container.kind is not cls:
            raise KindMismatchError(f"object {name!r} is open as a {container.kind.__name__}")
        return container

    def _adopt(self, name: str, existing: Crdt, cls: type[C]) -> C:
        """`existing` (undeclared, from a peer) as the declared `cls`, or KindMismatchError."""
        mismatch = KindMismatchError(
            f"object {name!r} is a {type(existing).__name__}, not a {cls.__name__}"
        )
        if name in self._containers or type(existing) is not KINDS.get(existing.kind):
            raise mismatch
        try:
            return cls.conform(existing)
        except DecodeError as exc:
            raise mismatch from exc

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

    async def _commit_local(self, name: str, previous: Any, delta: Crdt) -> None:
        """Record the delta of an update already applied in place (`previous`: the value
        before it, computed only when someone subscribes)."""
        self.buffer.append(self.id, {name: delta})
        self._announce(name, previous, self._objects[name], origin=self.id)
        self._wake()
        await trio.lowlevel.checkpoint()

    # -- remote deltas ----------------------------------------------------------------------

    async def apply_remote(self, deltas: dict[str, Crdt], origin: str) -> int | None:
        """Join deltas from peer `origin`; buffer and announce only what was new.

        All entries are checked before any is joined, so a group with a kind conflict changes
        nothing. Returns the sequence number given to the novel part, or None if nothing was new.
        """
        self._check_open()
        deltas = dict(deltas)
        for name, delta in deltas.items():
            local = self._objects.get(name)
            if local is None or type(local) is type(delta):
                continue
            if local.kind != delta.kind:
                raise ProtocolError(
                    f"kind conflict: object {name!r} is a {local.kind} here, peer sent {delta.kind}"
                )
            try:
                deltas[name] = type(local).conform(delta)
            except DecodeError as exc:
                raise ProtocolError(f"object {name!r} does not fit its declaration: {exc}") from exc
        novel: dict[str, Crdt] = {}
        for name, delta in deltas.items():
            local = self._objects.get(name)
            if local is None:
                local = self._objects[name] = type(delta)()
            part = local.novel(delta)
            if part is None:
                continue
            watched = name in self._containers and len(self._containers[name].feed)
            previous = local.value if watched else None
            local.merge(part)
            novel[name] = part
            if watched:
                self._announce(name, previous, local, origin=origin)
        await trio.lowlevel.checkpoint()
        if not novel:
            return None
        sequence = self.buffer.append(origin, novel)
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
        return {name: (obj.kind, obj.digest()) for name, obj in self._objects.items()}

    def deltas_since(self, digests: dict[str, tuple[str, Any]]) -> dict[str, Crdt]:
        """What a peer with these per-object digests lacks, object by object."""
        missing: dict[str, Crdt] = {}
        for name, obj in self._objects.items():
            theirs = digests.get(name)
            if theirs is None or theirs[0] != obj.kind:
                part = obj.copy()
            else:
                part = obj.delta_since(theirs[1])
            if not part.is_bottom():
                missing[name] = part
        return missing

    def digest(self) -> str:
        """A fingerprint of the whole state: equal on two replicas exactly when states are.

        Empty objects are left out: an object nobody wrote equals one that does not exist.
        """
        h = hashlib.sha256()
        for name in sorted(self._objects):
            obj = self._objects[name]
            if obj.is_bottom():
                continue
            h.update(codec.pack([name, obj.fingerprint()]))
        return h.hexdigest()

    # -- waiting for growth ---------------------------------------------------------------------

    def _wake(self) -> None:
        self._grew.set()
        self._grew = trio.Event()

    async def wait_beyond(self, sequence: int) -> int:
        """Wait until the buffer holds a group after `sequence` (or the replica closes)."""
        while self.buffer.sequence <= sequence and not self._closed:
            await self._grew.wait()
        return self.buffer.sequence
