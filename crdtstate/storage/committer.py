"""Group commit: every delta-group submitted while a transaction is in flight joins the next one.

One task owns the store. It takes everything queued, numbers the groups (so sequence numbers
follow commit order), writes them in one transaction on a worker thread, and only then, back
on the event loop thread and in commit order, runs each group's `publish` (which puts it in the
replica's buffer, where peers can see it) and wakes its submitter. Periodically it folds the
journal into a snapshot. A write that fails fails every waiting group and every later submit:
memory and disk may disagree from then on, so the replica must be reopened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import anyio
import anyio.to_thread

from ..errors import ReplicaClosedError, StorageError
from ..types import Crdt
from . import records
from .store import Store

log = logging.getLogger(__name__)

SnapshotRow = tuple[str, str, bytes, int]  # name, kind, encoded state, checksum


Publish = Callable[[int, int], None]  # (sequence, encoded bytes): a group is committed


@dataclass(eq=False, slots=True)
class PendingGroup:
    origin: str
    deltas: dict[str, Crdt]
    blob: bytes
    publish: Publish
    done: anyio.Event  # shared by every group of one transaction: set once it is published
    sequence: int = 0
    error: StorageError | None = None


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """Fold the journal once it holds this many groups or bytes since the last snapshot."""

    groups: int = 10_000
    bytes: int = 16 * 1024 * 1024


class GroupCommitter:
    def __init__(
        self,
        store: Store,
        *,
        last_sequence: Callable[[], int],
        freeze_states: Callable[[Iterable[str]], Callable[[], list[SnapshotRow]]],
        policy: SnapshotPolicy | None = None,
        unfolded: Iterable[str] = (),
        journal_groups: int = 0,
        journal_bytes: int = 0,
    ) -> None:
        # The replica's one sequence counter: a batch is numbered from it, committed, then
        # published in order, each publish buffering its group as the next number.
        self._last_sequence = last_sequence
        self.failure: StorageError | None = None
        self.transactions = 0  # journal commits so far (each may hold many groups)
        self.snapshots = 0
        self._store = store
        self._freeze_states = freeze_states
        self._policy = policy or SnapshotPolicy()
        self._unfolded = set(unfolded)
        self._journal_groups = journal_groups
        self._journal_bytes = journal_bytes
        self._queue: list[PendingGroup] = []
        # what the queued groups wait on: one event per transaction, not per group (making
        # one cost more than a small update)
        self._queued_done = anyio.Event()
        self._wakeup = anyio.Event()
        self._closing = False
        self._stopped = anyio.Event()

    @property
    def sequence(self) -> int:
        """The last sequence number committed (and published)."""
        return self._last_sequence()

    def check_usable(self) -> None:
        """Raise before a caller changes memory for a group that could never be committed."""
        if self.failure is not None:
            raise self._failed()
        if self._closing:
            raise ReplicaClosedError("the replica is closing")

    async def submit(self, origin: str, deltas: dict[str, Crdt], publish: Publish) -> int:
        """Queue a delta-group; return its sequence number once it is committed and published
        (`publish(sequence, bytes)`, on the event loop, in commit order).

        If the caller is cancelled while waiting, the group is still committed and published.
        """
        self.check_usable()
        blob = records.encode_group(deltas)
        group = PendingGroup(origin, deltas, blob, publish, self._queued_done)
        self._queue.append(group)
        self._wakeup.set()
        await group.done.wait()
        if group.error is not None:
            raise group.error
        return group.sequence

    async def mark_stale(self, record: dict[str, object]) -> None:
        """Store that the replica is stale (see `Store.mark_stale`); a failure is logged, not
        raised: the caller is already raising `StaleReplicaError`, which matters more."""
        try:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._store.mark_stale, record)
        except Exception as exc:
            log.error("%s: could not store that the replica is stale: %s", self._store.path, exc)

    def _failed(self) -> StorageError:
        """A fresh error per raiser (tasks must not share one exception object)."""
        assert self.failure is not None
        error = StorageError(str(self.failure))
        error.__cause__ = self.failure.__cause__
        return error

    async def run(self) -> None:
        """Commit queued groups until `close` is called and the queue is drained."""
        try:
            while self.failure is None:
                if not self._queue:
                    if self._closing:
                        break
                    await self._wakeup.wait()
                    self._wakeup = anyio.Event()
                    continue
                batch, self._queue = self._queue, []
                self._queued_done = anyio.Event()  # for the groups queued from now on
                await self._commit(batch)
                if self._due_for_snapshot():
                    await self._snapshot()
            if self.failure is None and self._journal_groups:
                await self._snapshot()  # a clean close leaves a folded journal: fast reopen
        finally:
            self._stopped.set()

    async def close(self) -> None:
        """Stop accepting groups, commit what is queued, fold the journal, close the store."""
        self._closing = True
        self._wakeup.set()
        with anyio.CancelScope(shield=True):
            await self._stopped.wait()
            await anyio.to_thread.run_sync(self._store.close)

    async def _commit(self, batch: list[PendingGroup]) -> None:
        rows = []
        last = self._last_sequence()
        for group in batch:
            last += 1
            group.sequence = last
            rows.append((group.sequence, group.origin, group.blob, records.checksum(group.blob)))
        try:
            with anyio.CancelScope(shield=True):  # committed rows are always published
                await anyio.to_thread.run_sync(self._store.append, rows, last)
        except Exception as exc:
            self._fail(f"journal write failed: {exc}", [*batch, *self._queue], exc)
            return
        self.transactions += 1
        for group in batch:
            group.publish(group.sequence, len(group.blob))
            self._unfolded.update(group.deltas)
            self._journal_groups += 1
            self._journal_bytes += len(group.blob)
        batch[0].done.set()  # the batch's one event

    def _due_for_snapshot(self) -> bool:
        return (
            self._journal_groups >= self._policy.groups or self._journal_bytes >= self._policy.bytes
        )

    async def _snapshot(self) -> None:
        """Write the current state of every object the journal touched, then drop the journal.

        States are copied here, between commits, where the committed view is exactly the state
        the journal reaches up to `self.sequence`; the copies are encoded and written in a
        worker thread.
        """
        encode = self._freeze_states(sorted(self._unfolded))
        covers = self.sequence

        def write() -> int:
            states = encode()
            self._store.write_snapshot(states, covers)
            return len(states)

        try:
            with anyio.CancelScope(shield=True):
                written = await anyio.to_thread.run_sync(write)
        except Exception as exc:
            self._fail(f"snapshot write failed: {exc}", self._queue, exc)
            return
        log.debug("snapshot of %d objects covers sequence %d", written, covers)
        self.snapshots += 1
        self._unfolded.clear()
        self._journal_groups = 0
        self._journal_bytes = 0

    def _fail(self, message: str, waiting: list[PendingGroup], exc: Exception) -> None:
        log.error("%s: %s; the replica accepts no more updates", self._store.path, message)
        self.failure = StorageError(f"{self._store.path}: {message}")
        self.failure.__cause__ = exc
        for group in waiting:
            group.error = self._failed()
            group.done.set()
        self._queue = []
