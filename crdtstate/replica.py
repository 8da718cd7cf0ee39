"""A replica: one process's copy of a set of named CRDTs, and the delta buffer that feeds
anti-entropy. Local updates never wait for the network; remote deltas are joined (only their
novel part is kept, the RR step) and announced to subscribers with the sending peer as origin.

A durable replica (opened with a path) journals every delta-group before it enters the delta
buffer, so no peer is pushed a delta that a crash could take back. Updates change the state in
memory at once (the next update builds on them); what anti-entropy computes from that state (a
digest answer) may include updates still being committed, so a session waits for
`wait_durable()` before sending it.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Iterable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from . import codec
from .buffer import DeltaBuffer, DeltaGroup
from .commits import CommitProgress
from .containers.changes import Change
from .containers.replicated import ReplicatedContainer
from .errors import DecodeError, InvalidArgumentError, KindMismatchError, ReplicaClosedError
from .gcpause import gc_paused
from .own_writes import OwnWrites
from .pacing import SchedulePacer
from .replica_ids import check_replica_id, writer_name
from .replica_state import RemoteGroup, ReplicaState, check_sequence
from .storage import Durability, GroupCommitter, SnapshotPolicy, SnapshotRow, Store, checksum
from .types import KINDS, Crdt
from .types.yjs.clientids import ClientIdAllocator

log = logging.getLogger(__name__)
DEFAULT_SNAPSHOTS = SnapshotPolicy()
C = TypeVar("C", bound=Crdt)


class Replica:
    """Hold named CRDT objects, number their delta-groups, and notify their containers."""

    def __init__(
        self,
        replica_id: str,
        *,
        incarnation: int | None = None,
        sequence: int = 0,
        buffer: DeltaBuffer | None = None,
    ) -> None:
        # The synchronous core (objects, buffer, RR, digests), shared with the simulator.
        self.state = ReplicaState(
            replica_id, buffer=buffer or DeltaBuffer(sequence), incarnation=incarnation
        )
        self.id = replica_id
        self.incarnation = self.state.incarnation
        # The name this run's updates are written under: their dots, counter entries and HLC
        # tiebreaks. A durable replica's counters survive restarts in its database, so it
        # writes as its id; an in-memory one forgets them, so each run writes under a fresh
        # name and a restart with the same id can never reuse a dot or a counter entry.
        durable = incarnation is not None
        self.writer = replica_id if durable else writer_name(replica_id, self.incarnation)
        # Yjs client ids of this run's document edits. The epoch must never repeat for this
        # id: a durable replica's incarnation is stored and bumped on every open.
        self.client_ids = ClientIdAllocator(self.id, epoch=self.incarnation)
        self.own_writes = OwnWrites(replica_id, self.writer)  # checks received groups
        self.buffer = self.state.buffer
        self.resume_points = self.state.resume_points  # per peer run: where a reconnect resumes
        self._objects = self.state.objects
        self._containers: dict[str, ReplicatedContainer[Any]] = {}
        self._journal: GroupCommitter | None = None
        self.path: Path | None = None  # the database of a durable replica
        self._commits = CommitProgress()  # of the local groups handed to the journal
        self._grew = anyio.Event()
        self._waiting = 0  # tasks in wait_beyond
        self._pacer = SchedulePacer()  # when a burst of local updates yields to other tasks
        self._closed = False

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        replica_id: str | None = None,
        path: str | os.PathLike[str] | None = None,
        *,
        durability: Durability | str = Durability.PROCESS,
        snapshots: SnapshotPolicy = DEFAULT_SNAPSHOTS,
        adopt_as_new_id: bool = False,
    ) -> AsyncIterator[Replica]:
        """A replica for the duration of the block: in memory, or durable in a database.

        An id follows one rule (`crdtstate.replica_ids`; `InvalidArgumentError` otherwise).
        In memory (no `path`): without an id (None) a fresh random one is used. An id may be
        reused by a restarted process: each run writes under a fresh `writer` name, so it never
        collides with what an earlier run wrote (which it regains from peers).

        With a `path`, the SQLite database there is opened, or created (for `replica_id`, or a
        fresh random id). Without an id, the replica stored there is reopened; an id that
        differs from the stored one raises `ReplicaIdMismatchError`. `update` then returns only
        once its delta-group is committed; `durability` says what a commit survives.
        `adopt_as_new_id=True` reopens the database of another id as `replica_id`, a new one:
        the way back for a restored backup (`StaleReplicaError`; README, Restoring a backup).
        """
        if replica_id is not None:
            check_replica_id(replica_id)
        if path is None:
            if adopt_as_new_id:
                raise InvalidArgumentError("adopt_as_new_id needs the path of a database")
            replica = cls(uuid.uuid4().hex[:12] if replica_id is None else replica_id)
            try:
                yield replica
            finally:
                replica.close()
            return
        store, stored = await anyio.to_thread.run_sync(
            Store.open, path, replica_id, Durability(durability), adopt_as_new_id
        )
        replica = cls(stored.replica_id, incarnation=stored.incarnation, sequence=stored.sequence)
        replica._objects.update(stored.objects)
        replica.own_writes.reload(stored.stale)
        replica.path = stored.path
        journal = replica._journal = GroupCommitter(
            store,
            last_sequence=lambda: replica.state.sequence,
            freeze_states=replica._freeze_states,
            policy=snapshots,
            unfolded=stored.unfolded,
            journal_groups=stored.journal_groups,
            journal_bytes=stored.journal_bytes,
        )
        replica.own_writes.persist = journal.mark_stale
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(journal.run)
            try:
                yield replica
            finally:
                replica.close()
                await journal.close()  # commits what is queued, folds the journal, closes

    def close(self) -> None:
        self._closed = True
        for container in self._containers.values():
            container.feed.close()
        self._grew.set()
        self._commits.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def durable(self) -> bool:
        return self._journal is not None

    def check_open(self, *, writing: bool = True) -> None:
        """Raise `ReplicaClosedError` (or the journal's failure) before anything changes, and
        `StaleReplicaError` before a local update (`writing`) once the replica is stale."""
        if self._closed:
            raise ReplicaClosedError(f"replica {self.id!r} is closed")
        if self._journal is not None:
            self._journal.check_usable()
        if writing and self.own_writes.stale is not None:
            self.own_writes.refuse_write()

    # -- containers -------------------------------------------------------------------------

    def container(self, name: str, kind: type[C] | C) -> ReplicatedContainer[C]:
        """The replicated container for object `name` of CRDT class `kind` (created empty).

        `kind` may be declared (`ORMap[str, PNCounter]`, `LWWRegister[Config]`) or be an empty
        instance (`ORMap(value=PNCounter)`). An object that reached this replica from a peer
        before it was opened here is adopted if it fits the declaration.
        """
        self.check_open(writing=False)  # a stale replica still serves reads
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

    def state_of(self, name: str) -> Crdt:
        """The live state of an open object (its container reads and updates it in place)."""
        return self._objects[name]

    def live_state(self, name: str) -> Crdt:
        """`check_open()`, then `state_of(name)`: what every update starts with, in one call."""
        if self._closed or self._journal is not None or self.own_writes.stale is not None:
            self.check_open()
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

    def commit_local(self, name: str, previous: Any, delta: Crdt) -> Awaitable[Any]:
        """Record the delta of an update already applied in place (`previous`: the value
        before it, computed only when someone subscribes); what the update awaits next.

        In memory: done before this returns, and the update then awaits the pacer's
        checkpoint (a plain function, not a coroutine: no frame of its own on the hot path).
        Durable: the returned awaitable ends once the group is journaled; only then is it
        buffered and announced.
        """
        container = self._containers.get(name)
        if container is not None and container.feed.subscribers:
            change = self._change(name, previous, self._objects[name], origin=self.id)
        else:
            change = None  # nobody listens: no value is computed
        if self._journal is None:
            self.buffer.append_local(self.id, name, delta)  # `state.commit_group({name: delta})`
            if change is not None:
                self._containers[name].feed.publish(change)
            if self._waiting:  # `_wake`, inline: nobody waits, the common case
                self._wake()
            return self._pacer.checkpoint()
        self._commits.submitted += 1
        publish = partial(self._publish_local, name, delta, change)
        return self._journal.submit(self.id, {name: delta}, publish)

    def _publish_local(
        self, name: str, delta: Crdt, change: Change | None, sequence: int, size: int
    ) -> None:
        """A local group is committed (`size`: its journaled bytes, which measure it for the
        buffer's bound): buffer it (peers may now see it) and announce it."""
        self._commits.commit()
        check_sequence(self.state.commit_group({name: delta}, size=size), sequence)
        self._wake()
        if change is not None:
            self._containers[name].feed.publish(change)

    async def wait_durable(self) -> None:
        """Wait until every local update made so far is committed (at once when in memory).

        Anything computed from the state before this call (a digest answer) may then be sent.
        """
        await self._commits.wait()

    # -- remote deltas ----------------------------------------------------------------------

    async def apply_remote(self, deltas: dict[str, Crdt], origin: str) -> int | None:
        """Join deltas from peer `origin`; buffer and announce only what was new.

        All entries are checked before any is joined, so a group with a kind conflict changes
        nothing. Returns the sequence number given to the novel part, or None if nothing was new.
        Durable: the novel part is journaled before it is joined, so the caller's ack follows
        the commit. A group holding more of our own writes than we do: `StaleReplicaError`.
        """
        self.check_open(writing=False)
        await self.own_writes.check(self._objects, deltas, origin)
        remote = self.state.novel_part(deltas)
        if remote is None:
            await anyio.lowlevel.checkpoint()
            return None
        if self._journal is not None:
            publish = partial(self._publish_remote, remote, origin)
            return await self._journal.submit(origin, remote.parts, publish)
        self._publish_remote(remote, origin, None)
        await anyio.lowlevel.checkpoint()
        return self.state.sequence

    def _publish_remote(
        self, remote: RemoteGroup, origin: str, sequence: int | None, size: int | None = None
    ) -> None:
        """A remote group is new (and, durable, committed as `sequence`): join it, buffer it
        and announce what changed. (`size`, the journaled novel part's bytes, does not measure
        the group buffered, which is the whole group received: the buffer measures that.)"""
        watched = {name for name, c in self._containers.items() if c.feed.subscribers}
        appended, previous = self.state.install_remote(remote, origin, watched=watched)
        check_sequence(appended, sequence)
        for name, value in previous.items():
            self._announce(name, value, self._objects[name], origin=origin)
        self._wake()

    def _change(self, name: str, previous: Any, state: Crdt, *, origin: str) -> Change | None:
        """The change to announce, or None when nobody listens (then no value is computed).

        `previous` is the old value, or the old state to take it from.
        """
        container = self._containers.get(name)
        if container is None or not container.feed.subscribers:
            return None
        if isinstance(previous, Crdt):
            previous = previous.value
        return Change.of(state.value, previous, origin, state.version)

    def _announce(self, name: str, previous: Any, state: Crdt, *, origin: str) -> None:
        change = self._change(name, previous, state, origin=origin)
        if change is not None:
            self._containers[name].feed.publish(change)

    # -- what anti-entropy reads --------------------------------------------------------------

    def _freeze_states(self, names: Iterable[str]) -> Callable[[], list[SnapshotRow]]:
        """Copies of `names` now, and the function that encodes them as snapshot rows.

        The committer runs that function in a worker thread: encoding a 100k-element set
        takes about 0.4 s, copying it 0.1 s, and only the copy holds up the event loop. The
        rows may include updates still being committed: a snapshot that survives more than
        was acknowledged loses nothing and reuses no dot.
        """
        with gc_paused():
            copies = [(name, self._objects[name].copy()) for name in names]

        def encode() -> list[SnapshotRow]:
            rows = []
            with gc_paused():
                for name, obj in copies:
                    blob = codec.encode(obj)
                    rows.append((name, obj.kind, blob, checksum(blob)))
            return rows

        return encode

    def object_digests(self) -> dict[str, tuple[str, Any]]:
        """Per object: (kind, digest), for a digest exchange."""
        return self.state.object_digests()

    @property
    def sequence(self) -> int:
        return self.state.sequence

    def can_serve(self, after: int) -> bool:
        return self.state.can_serve(after)

    def collect(
        self, after: int, *, exclude_origin: str | None = None, held: Container[int] = ()
    ) -> dict[str, Crdt]:
        return self.state.collect(after, exclude_origin=exclude_origin, held=held)

    def groups_after(self, after: int) -> list[DeltaGroup]:
        return self.state.groups_after(after)

    def local_class(self, name: str) -> type[Crdt] | None:
        return self.state.local_class(name)

    def deltas_since(self, digests: dict[str, tuple[str, Any]]) -> dict[str, Crdt]:
        """What a peer with these per-object digests lacks, object by object."""
        return self.state.deltas_since(digests)

    def digest(self) -> str:
        """A fingerprint of the whole state: equal on two replicas exactly when states are.

        Empty objects are left out: an object nobody wrote equals one that does not exist.
        """
        return self.state.digest()

    # -- waiting for growth ---------------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiting:  # a fresh event per wake only when someone waits (the hot path)
            self._grew.set()
            self._grew = anyio.Event()

    async def wait_beyond(self, sequence: int) -> int:
        """Wait until the buffer holds a group after `sequence` (or the replica closes)."""
        while self.buffer.sequence <= sequence and not self._closed:
            self._waiting += 1
            try:
                await self._grew.wait()
            finally:
                self._waiting -= 1
        return self.buffer.sequence
