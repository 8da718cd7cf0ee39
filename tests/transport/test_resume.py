"""Reconnects over websockets on loopback: a dropped connection to a peer run seen before
resumes by claims (no digest crosses it); a restarted replica, in memory or from its file, or
one restored from an old copy of its file, is served by digests, and nothing is lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import pytest

from crdtstate import AWSet, Replica
from transport import open_mesh
from transport.driver import SessionDriver
from transport.mesh import Mesh

from .helpers import converge

pytestmark = pytest.mark.anyio
HANG_GUARD = 10.0


async def add(replica: Replica, element: str) -> None:
    await replica.container("set", AWSet).update(lambda s: s.add(element))


async def session_with(mesh: Mesh, peer: str, other_than: SessionDriver | None) -> SessionDriver:
    """The mesh's session with `peer`, once it is not `other_than` (a reconnect happened)."""
    with anyio.fail_after(HANG_GUARD):
        while (driver := mesh._sessions.get(peer)) is None or driver is other_than:
            await mesh._changed.wait()
    return driver


def exchanged(driver: SessionDriver) -> dict[str, int]:
    """Frames by type this end of a session sent."""
    return driver.session.stats.frames_by_type


async def test_a_dropped_connection_resumes_without_digests() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        async with open_mesh(a) as mesh_a, open_mesh(b, peers=[mesh_a.url]) as mesh_b:
            await add(a, "a1")
            await add(b, "b1")
            first_a = await session_with(mesh_a, "b", None)
            first_b = await session_with(mesh_b, "a", None)
            await converge([a, b])
            assert exchanged(first_b)["digest"] == 1
            await first_b.channel.close(1001, "network blip")  # b redials
            await add(a, "while-apart")
            second_a = await session_with(mesh_a, "b", first_a)
            second_b = await session_with(mesh_b, "a", first_b)
            await converge([a, b])
            for driver in (second_a, second_b):
                sent = exchanged(driver)
                assert "digest" not in sent, sent
                assert sent["claim"] == sent["resume"] == 1
                assert driver.session.stats.claims_accepted == 1
            assert await b.container("set", AWSet).get() == {"a1", "b1", "while-apart"}


async def test_a_restarted_in_memory_replica_is_served_by_digests() -> None:
    async with Replica.open("a") as a:
        async with open_mesh(a) as mesh_a:
            async with Replica.open("b") as b, open_mesh(b, peers=[mesh_a.url]):
                await add(b, "b1")
                await converge([a, b])
                old = await session_with(mesh_a, "b", None)
            async with Replica.open("b") as b2, open_mesh(b2, peers=[mesh_a.url]) as mesh_b2:
                new = await session_with(mesh_a, "b", old)
                await converge([a, b2])
                assert await b2.container("set", AWSet).get() == {"b1"}
                ours, theirs = exchanged(new), exchanged(await session_with(mesh_b2, "a", None))
                assert "claim" not in ours and "claim" not in theirs
                assert ours["digest"] == theirs["digest"] == 1


async def test_a_replica_restored_from_an_old_copy_of_its_file_loses_nothing(
    tmp_path: Path,
) -> None:
    """The restored file reopens under the incarnation its lost run had: its peer's claim
    matches its record, but the restored replica remembers no peer and refuses it, so the
    peer's updates the copy lacks come back by digests."""
    path, copy = tmp_path / "a.db", tmp_path / "copy"
    async with Replica.open("a", path) as a:
        await add(a, "a1")
    copy.mkdir()
    for file in tmp_path.glob("a.db*"):
        shutil.copy(file, copy / file.name)
    async with Replica.open("b") as b, open_mesh(b) as mesh_b:
        async with Replica.open("a", path) as a, open_mesh(a, peers=[mesh_b.url]):
            lost_run = a.incarnation
            await add(b, "b-seen-by-the-lost-run")
            await converge([a, b])
            old = await session_with(mesh_b, "a", None)
        for file in tmp_path.glob("a.db*"):
            file.unlink()
        for file in copy.iterdir():
            shutil.copy(file, tmp_path / file.name)
        async with Replica.open("a", path) as a, open_mesh(a, peers=[mesh_b.url]):
            assert a.incarnation == lost_run  # the copy's counter, bumped again
            new = await session_with(mesh_b, "a", old)
            await converge([a, b])
            assert await a.container("set", AWSet).get() == {"a1", "b-seen-by-the-lost-run"}
            assert new.session.stats.claims_refused == 0
            assert exchanged(new).get("claim") == 1  # b remembered this incarnation...
            assert "digest" in exchanged(new)  # ... and a refused: digests


async def test_a_storage_backed_replica_reopened_is_served_by_digests(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with Replica.open("b") as b, open_mesh(b) as mesh_b:
        async with Replica.open("a", path) as a, open_mesh(a, peers=[mesh_b.url]):
            await add(a, "a1")
            await converge([a, b])
            old = await session_with(mesh_b, "a", None)
        await add(b, "b-while-a-was-down")
        async with Replica.open("a", path) as a, open_mesh(a, peers=[mesh_b.url]):
            new = await session_with(mesh_b, "a", old)
            await converge([a, b])
            assert "claim" not in exchanged(new)
            assert await a.container("set", AWSet).get() == {"a1", "b-while-a-was-down"}
