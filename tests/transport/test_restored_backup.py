"""A durable replica whose database is put back to an older copy (a restored backup) must not
silently lose writes when it syncs again over real websockets: its peers hold dots and counter
entries of its writer name that it no longer has, and the writes it would make would reuse
them. The sync is refused with `StaleReplicaError`, the replica turns stale and refuses local
updates; reopened under a new id, it converges with nothing lost (README, "Restoring a
backup"). A second replica running under the same id on another file is caught the same way.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import anyio
import pytest

from crdtstate import AWSet, GCounter, Replica, ReplicaIdMismatchError, StaleReplicaError
from crdtstate.storage.inspect import describe, render
from transport import Mesh, open_mesh

from .helpers import converge


def copy_database(source: Path, target: Path) -> None:
    """Copy a closed database (its -wal too, if one was left), replacing what is at `target`."""
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))


async def values(replica: Replica) -> tuple[frozenset[object], int]:
    s = await replica.container("s", AWSet).get()
    return frozenset(s), await replica.container("c", GCounter).get()


async def restored(path: Path, backup: Path, mesh: Mesh) -> None:
    """`path` is written (x, one increment), copied to `backup`, then written on and synced
    with `mesh`'s replica (y1, y2, two increments), and the backup is put back."""
    async with Replica.open("a", path) as a:
        await a.container("s", AWSet).update(lambda s: s.add("x"))
        await a.container("c", GCounter).update(lambda c: c.increment())
    copy_database(path, backup)
    async with Replica.open(path=path) as a, open_mesh(a, None, [mesh.url]):
        for element in ("y1", "y2"):
            await a.container("s", AWSet).update(lambda s, e=element: s.add(e))
        await a.container("c", GCounter).update(lambda c: c.increment(2))
        await converge([a, mesh.replica])
    copy_database(backup, path)


async def sync_until_stale(replica: Replica, mesh: Mesh) -> StaleReplicaError:
    async with open_mesh(replica, None, [mesh.url]):
        with anyio.fail_after(10):
            while replica.own_writes.stale is None:
                await anyio.sleep(0.005)
    return replica.own_writes.stale


def assert_told(caplog: pytest.LogCaptureFixture, stale: StaleReplicaError) -> None:
    """An error from the replica with what to do, and the session closed with the reason."""
    messages = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert any(
        name == "crdtstate.own_writes" and level == logging.ERROR and "adopt_as_new_id" in text
        for name, level, text in messages
    ), messages
    assert any(
        name == "antientropy.session" and "ended" in text and stale.reason[:200] in text
        for name, _, text in messages
    ), messages


async def test_a_restored_backup_is_refused_then_adopted_under_a_new_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, backup = tmp_path / "a.db", tmp_path / "backup.db"
    caplog.set_level(logging.WARNING)
    async with Replica.open("peer") as peer, open_mesh(peer) as mesh:
        await restored(path, backup, mesh)
        expected = (frozenset({"x", "y1", "y2"}), 3)
        async with Replica.open(path=path) as a:
            assert await values(a) == (frozenset({"x"}), 1)  # the old copy
            before = a.digest()
            stale = await sync_until_stale(a, mesh)
            assert stale.writer == "a" and stale.name in {"s", "c"}
            assert (stale.theirs, stale.ours) == (3, 1)
            assert a.digest() == before  # the refused group changed nothing
            assert_told(caplog, stale)
            with pytest.raises(StaleReplicaError):
                await a.container("s", AWSet).update(lambda s: s.add("refused"))
            with pytest.raises(StaleReplicaError):
                await a.container("c", GCounter).update(lambda c: c.increment())
            assert await values(a) == (frozenset({"x"}), 1)  # reads go on
        assert await values(peer) == expected  # nothing the peer held was lost

        # The way back: the same file under a new id.
        async with Replica.open("a-2", path, adopt_as_new_id=True) as a2:
            assert (a2.id, a2.writer) == ("a-2", "a-2")
            async with open_mesh(a2, None, [mesh.url]):
                await converge([a2, peer])
                await a2.container("s", AWSet).update(lambda s: s.add("z"))
                await a2.container("c", GCounter).update(lambda c: c.increment())
                await converge([a2, peer])
            assert a2.own_writes.stale is None
            after = (frozenset({"x", "y1", "y2", "z"}), 4)
            assert await values(a2) == after and await values(peer) == after
        async with Replica.open(path=path) as again:
            assert again.id == "a-2" and await values(again) == after
        with pytest.raises(ReplicaIdMismatchError):
            async with Replica.open("a", path):
                pass


async def test_writes_made_before_meeting_a_peer_are_refused_not_silently_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the check the restored replica's new write z took dot (a, 2), which the peer
    holds as y1: the peer would drop z as known and the two would silently differ."""
    path, backup = tmp_path / "a.db", tmp_path / "backup.db"
    caplog.set_level(logging.WARNING)
    async with Replica.open("peer") as peer, open_mesh(peer) as mesh:
        await restored(path, backup, mesh)
        async with Replica.open(path=path) as a:
            await a.container("s", AWSet).update(lambda s: s.add("z"))
            await a.container("c", GCounter).update(lambda c: c.increment())
            before = a.digest()
            stale = await sync_until_stale(a, mesh)
            assert (stale.theirs, stale.ours) == (3, 2)
            assert a.digest() == before
            assert_told(caplog, stale)
            assert await values(a) == (frozenset({"x", "z"}), 2)  # kept, not deleted
            with pytest.raises(StaleReplicaError):
                await a.container("s", AWSet).update(lambda s: s.add("more"))


async def test_two_replicas_under_one_id_are_caught(tmp_path: Path) -> None:
    async with Replica.open("peer") as peer, open_mesh(peer) as mesh:
        async with Replica.open("a", tmp_path / "one.db") as one:
            for n in (1, 2):
                await one.container("c", GCounter).update(lambda c, n=n: c.increment(n))
            async with open_mesh(one, None, [mesh.url]):
                await converge([one, peer])
        async with Replica.open("a", tmp_path / "two.db") as two:
            await two.container("c", GCounter).update(lambda c: c.increment())
            stale = await sync_until_stale(two, mesh)
            assert (stale.name, stale.theirs, stale.ours) == ("c", 3, 1)
        assert await peer.container("c", GCounter).get() == 3


async def test_clean_restarts_never_trip_it(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with Replica.open("peer") as peer, open_mesh(peer) as mesh:
        for run in range(3):
            async with Replica.open("a", path) as a:
                await a.container("s", AWSet).update(lambda s, r=run: s.add(f"a{r}"))
                await a.container("c", GCounter).update(lambda c: c.increment())
                async with open_mesh(a, None, [mesh.url]):
                    await converge([a, peer])
                    await peer.container("s", AWSet).update(lambda s, r=run: s.add(f"p{r}"))
                    await converge([a, peer])
                await a.container("c", GCounter).update(lambda c: c.increment())  # offline
                assert a.own_writes.stale is None
        async with Replica.open(path=path) as a, open_mesh(a, None, [mesh.url]):
            await converge([a, peer])
            assert a.own_writes.stale is None and await values(a) == await values(peer)
            assert (await values(a))[1] == 6


async def test_the_stale_mark_survives_a_restart_until_the_database_is_adopted(
    tmp_path: Path,
) -> None:
    """Restarted before meeting a peer again, a stale replica would write under its old name
    and collide with what its peers hold: the mark is stored, so it still refuses; `crdtstate
    inspect` shows it; adoption under a new id clears it."""
    path, backup = tmp_path / "a.db", tmp_path / "backup.db"
    async with Replica.open("peer") as peer, open_mesh(peer) as mesh:
        await restored(path, backup, mesh)
        async with Replica.open(path=path) as a:
            stale = await sync_until_stale(a, mesh)
    async with Replica.open(path=path) as a:  # no peer now
        again = a.own_writes.stale
        assert again is not None
        assert (again.name, again.writer, again.theirs, again.ours, again.reason) == (
            stale.name,
            stale.writer,
            stale.theirs,
            stale.ours,
            stale.reason,
        )
        with pytest.raises(StaleReplicaError):
            await a.container("s", AWSet).update(lambda s: s.add("after restart"))
        assert await values(a) == (frozenset({"x"}), 1)
    assert describe(path)["stale"]["reason"] == stale.reason
    assert "STALE" in render(describe(path))
    async with Replica.open("a-2", path, adopt_as_new_id=True) as a2:
        assert a2.own_writes.stale is None
        await a2.container("s", AWSet).update(lambda s: s.add("z"))
    async with Replica.open(path=path) as reopened:
        assert reopened.own_writes.stale is None
        assert await values(reopened) == (frozenset({"x", "z"}), 1)
    assert describe(path)["stale"] is None
