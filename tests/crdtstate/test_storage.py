"""Durable replicas (DESIGN §3, Replica and storage): what `Replica.open(path=...)` promises."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from crdtstate import AWSet, GCounter, PNCounter, Replica
from crdtstate.errors import DatabaseInUseError, ReplicaClosedError, StorageError
from crdtstate.storage import Durability, SnapshotPolicy, read_database

pytestmark = pytest.mark.anyio


def gate_appends(replica: Replica) -> threading.Event:
    """Hold every journal write of `replica` until the returned event is set."""
    assert replica._journal is not None
    store = replica._journal._store
    gate = threading.Event()
    original: Callable[..., Any] = store.append

    def gated(*args: Any) -> Any:
        gate.wait(timeout=30)  # a hang guard only: tests set the gate long before
        return original(*args)

    store.append = gated  # type: ignore[method-assign]
    return gate


async def test_a_new_database_keeps_the_id_state_and_counters(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with Replica.open("a", path) as a:
        await a.container("hits", PNCounter).update(lambda n: n.increment(5))
        await a.container("tools", AWSet).update(lambda s: s.add("search"))
        first_incarnation, sequence = a.incarnation, a.buffer.sequence
        digest = a.digest()
    assert sequence == 2
    async with Replica.open(path=path) as again:
        assert again.id == "a"
        assert again.digest() == digest
        assert await again.container("hits", PNCounter).get() == 5
        assert await again.container("tools", AWSet).get() == {"search"}
        assert again.incarnation > first_incarnation
        assert again.buffer.sequence == sequence  # numbering resumes, never restarts
        await again.container("hits", PNCounter).update(lambda n: n.increment())
        assert again.buffer.sequence == sequence + 1


async def test_without_an_id_a_new_database_gets_a_generated_one(tmp_path: Path) -> None:
    async with Replica.open(path=tmp_path / "x.db") as first:
        generated = first.id
    assert generated
    async with Replica.open(path=tmp_path / "x.db") as again:
        assert again.id == generated


async def test_dots_continue_after_reopen_so_a_peer_never_drops_a_new_add(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    peer = AWSet()
    async with Replica.open("a", path) as a:
        await a.container("s", AWSet).update(lambda s: s.add("before"))
        peer.merge(a.snapshot("s"))  # type: ignore[arg-type]
    async with Replica.open(path=path) as a:
        tools = a.container("s", AWSet)
        await tools.update(lambda s: s.add("after"))
        peer.merge(a.snapshot("s"))  # type: ignore[arg-type]
    assert peer.value == {"before", "after"}


async def test_update_returns_only_after_commit_and_nothing_uncommitted_can_be_sent(
    tmp_path: Path,
) -> None:
    """The buffer (what pushes carry) gains a group only at its commit, and `wait_durable`,
    which a session awaits before sending anything computed from the state, holds until then."""
    async with Replica.open("a", tmp_path / "a.db") as a:
        hits = a.container("hits", PNCounter)
        await hits.update(lambda n: n.increment())
        gate = gate_appends(a)
        returned = anyio.Event()
        durable = anyio.Event()

        async def slow_update() -> None:
            await hits.update(lambda n: n.increment(10))
            returned.set()

        async def wait_durable() -> None:
            await a.wait_durable()
            durable.set()

        async with anyio.create_task_group() as nursery:
            nursery.start_soon(slow_update)
            await anyio.wait_all_tasks_blocked()
            nursery.start_soon(wait_durable)
            await anyio.wait_all_tasks_blocked()
            assert not returned.is_set()
            assert await hits.get() == 11  # the working state already has it
            assert a.buffer.sequence == 1  # but no push can carry it yet
            assert not durable.is_set()  # nor a digest answer computed from the state now
            gate.set()
        assert returned.is_set()
        assert durable.is_set()
        assert a.buffer.sequence == 2
        assert a.deltas_since({})["hits"].value == 11


async def test_a_peer_connecting_mid_commit_gets_the_update_only_once_committed(
    tmp_path: Path,
) -> None:
    """A digest answer computed while an update is uncommitted is held until the commit."""
    from transport import open_mesh

    async with Replica.open("a", tmp_path / "a.db") as a, Replica.open("peer") as peer:
        hits = a.container("hits", PNCounter)
        await hits.update(lambda n: n.increment())
        gate = gate_appends(a)
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(hits.update, lambda n: n.increment(10))
            await anyio.wait_all_tasks_blocked()
            async with open_mesh(a) as mesh, open_mesh(peer, None, [mesh.url]) as peer_mesh:
                with anyio.fail_after(10):
                    await peer_mesh.wait_for_peers({"a"})
                await anyio.sleep(0.3)  # time enough for a digest answer to arrive, if sent
                assert await peer.container("hits", PNCounter).get() == 0
                gate.set()
                with anyio.fail_after(10):
                    while await peer.container("hits", PNCounter).get() != 11:
                        await anyio.sleep(0.01)


async def test_concurrent_updates_share_transactions(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with Replica.open("a", path) as a:
        hits = a.container("hits", GCounter)
        tools = a.container("tools", AWSet)

        async def updater(i: int) -> None:
            for j in range(10):
                await hits.update(lambda n: n.increment())
                await tools.update(lambda s, j=j: s.add((i, j)))

        async with anyio.create_task_group() as nursery:
            for i in range(32):
                nursery.start_soon(updater, i)
        assert a._journal is not None
        assert a._journal.transactions < 640 / 4
        assert a.buffer.sequence == 640
    async with Replica.open(path=path) as a:
        assert await a.container("hits", GCounter).get() == 320
        assert len(await a.container("tools", AWSet).get()) == 320


async def test_sequence_numbers_follow_commit_order(tmp_path: Path) -> None:
    async with Replica.open("a", tmp_path / "a.db") as a:
        counters = [a.container(f"c{i}", GCounter) for i in range(20)]
        async with anyio.create_task_group() as nursery:
            for counter in counters:
                nursery.start_soon(counter.update, lambda n: n.increment())
        groups = a.buffer._groups
        assert [g.sequence for g in groups] == list(range(1, 21))
    stored = read_database(tmp_path / "a.db")
    assert stored.sequence == 20


async def test_a_cancelled_update_is_still_committed(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with Replica.open("a", path) as a:
        gate = gate_appends(a)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await a.container("n", GCounter).update(lambda n: n.increment(3))
        gate.set()
    async with Replica.open(path=path) as a:
        assert await a.container("n", GCounter).get() == 3


async def test_remote_deltas_are_journaled_before_apply_remote_returns(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    async with Replica.open("a") as a:
        await a.container("s", AWSet).update(lambda s: s.add("from-a"))
        delta = a.deltas_since({})
    async with Replica.open("b", path) as b:
        gate = gate_appends(b)
        done: list[int | None] = []

        async def apply() -> None:
            done.append(await b.apply_remote(delta, origin="a"))

        async with anyio.create_task_group() as nursery:
            nursery.start_soon(apply)
            await anyio.wait_all_tasks_blocked()
            assert done == []
            assert b.buffer.sequence == 0
            gate.set()
        assert done == [1]
        assert b.buffer.collect(0)["s"].value == {"from-a"}
        assert await b.apply_remote(delta, origin="a") is None  # nothing new: no group
    async with Replica.open(path=path) as b:
        assert await b.container("s", AWSet).get() == {"from-a"}


async def test_subscribers_hear_of_local_updates_at_commit(tmp_path: Path) -> None:
    async with Replica.open("a", tmp_path / "a.db") as a:
        hits = a.container("hits", PNCounter)
        async with hits.subscribe() as changes:
            await hits.update(lambda n: n.increment(2))
            await hits.update(lambda n: n.decrement())
            first, second = await changes.__anext__(), await changes.__anext__()
    assert (first.previous, first.value, first.origin) == (0, 2, "a")
    assert (second.previous, second.value) == (2, 1)


async def test_snapshots_fold_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with Replica.open("a", path, snapshots=SnapshotPolicy(groups=10)) as a:
        for i in range(35):
            await a.container("s", AWSet).update(lambda s, i=i: s.add(i))
        assert a._journal is not None and a._journal.snapshots == 3
        digest = a.digest()
        a.close()
        kill_image = read_database(path)  # what a crash right now would leave
    assert kill_image.snapshot_sequence == 30
    assert kill_image.journal_groups == 5
    assert kill_image.snapshot_objects == 1
    folded = read_database(path)  # a clean close folds the rest
    assert (folded.snapshot_sequence, folded.journal_groups) == (35, 0)
    async with Replica.open(path=path) as again:
        assert again.digest() == digest
        assert await again.container("s", AWSet).get() == set(range(35))


async def test_a_second_replica_on_the_same_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with Replica.open("a", path):
        with pytest.raises(DatabaseInUseError):
            async with Replica.open("a", path):
                pass  # pragma: no cover


async def test_a_failed_journal_write_fails_the_update_and_every_later_one(
    tmp_path: Path,
) -> None:
    async with Replica.open("a", tmp_path / "a.db") as a:
        hits = a.container("hits", GCounter)
        await hits.update(lambda n: n.increment())
        assert a._journal is not None

        def broken(*args: object) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        a._journal._store.append = broken  # type: ignore[method-assign]
        with pytest.raises(StorageError, match="disk I/O error"):
            await hits.update(lambda n: n.increment())
        with pytest.raises(StorageError):
            await hits.update(lambda n: n.increment())
        assert a.buffer.sequence == 1  # the failed group never reached a peer
    async with Replica.open(path=tmp_path / "a.db") as again:
        assert await again.container("hits", GCounter).get() == 1


async def test_updates_after_close_are_refused(tmp_path: Path) -> None:
    async with Replica.open("a", tmp_path / "a.db") as a:
        hits = a.container("hits", GCounter)
    with pytest.raises(ReplicaClosedError):
        await hits.update(lambda n: n.increment())


@pytest.mark.parametrize(("durability", "synchronous"), [("process", 1), (Durability.POWER, 2)])
async def test_durability_sets_how_commits_reach_the_disk(
    tmp_path: Path, durability: Durability | str, synchronous: int
) -> None:
    async with Replica.open("a", tmp_path / "a.db", durability=durability) as a:
        assert a._journal is not None
        conn = a._journal._store._conn
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == synchronous
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_in_memory_replicas_use_no_threads_and_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_threads(*args: object, **kwargs: object) -> None:
        raise AssertionError("an in-memory replica started a thread")

    monkeypatch.setattr(anyio.to_thread, "run_sync", no_threads)
    async with Replica.open("a") as a, Replica.open("b") as b:
        assert not a.durable
        await a.container("n", GCounter).update(lambda n: n.increment())
        assert a.buffer.sequence == 1
        assert await b.apply_remote(a.deltas_since({}), origin="a") == 1
    assert list(tmp_path.iterdir()) == []


async def queue_behind_one_in_flight(a: Replica, update: Callable[[], Any], tg: Any) -> Any:
    """Start `update` once, hold its transaction in the store, then start it nine more
    times: those nine wait in the queue. Returns the gate to release the store with."""
    assert a._journal is not None
    store = a._journal._store
    gate, entered = threading.Event(), threading.Event()
    original: Callable[..., Any] = store.append

    def gated(*args: Any) -> Any:
        entered.set()
        gate.wait(timeout=30)  # a hang guard only: tests set the gate long before
        return original(*args)

    store.append = gated  # type: ignore[method-assign]
    tg.start_soon(update)
    while not entered.is_set():
        await anyio.sleep(0.001)
    for _ in range(9):
        tg.start_soon(update)
    while len(a._journal._queue) < 9:
        await anyio.sleep(0.001)
    return gate, store


async def test_updates_queued_together_commit_in_one_transaction_and_all_wake(
    tmp_path: Path,
) -> None:
    """Groups submitted while a transaction is in flight share the next one and one event:
    each submitter still wakes with its own group committed, in order."""
    async with Replica.open("a", tmp_path / "a.db") as a:
        hits = a.container("hits", PNCounter)
        await hits.update(lambda n: n.increment())
        assert a._journal is not None
        before = a._journal.transactions
        committed_at_return: list[int] = []
        async with anyio.create_task_group() as tg:

            async def update() -> None:
                await hits.update(lambda n: n.increment())
                committed_at_return.append(a._commits.committed)

            gate, _ = await queue_behind_one_in_flight(a, update, tg)
            gate.set()
        assert sorted(committed_at_return) == [2] + [11] * 9  # none woke before its commit
        assert await hits.get() == 11
        assert a.buffer.sequence == 11
        assert a._journal.transactions - before == 2  # the first alone, the nine together


async def test_a_failed_transaction_fails_every_update_queued_behind_it(tmp_path: Path) -> None:
    """The store fails while nine updates wait for the next transaction: the one in flight
    and the nine all raise (none waits forever, none is told it committed)."""
    async with Replica.open("a", tmp_path / "a.db") as a:
        hits = a.container("hits", PNCounter)
        await hits.update(lambda n: n.increment())
        failures: list[BaseException] = []

        async def update() -> None:
            try:
                await hits.update(lambda n: n.increment())
            except StorageError as exc:
                failures.append(exc)

        async with anyio.create_task_group() as tg:
            gate, store = await queue_behind_one_in_flight(a, update, tg)

            def broken(*args: object) -> None:
                raise sqlite3.OperationalError("disk I/O error")

            # the transaction in flight is past this lookup and commits; the next one fails
            store.append = broken  # type: ignore[method-assign]
            gate.set()
        assert len(failures) == 9  # the nine queued behind the one that committed
        assert a.buffer.sequence == 2
