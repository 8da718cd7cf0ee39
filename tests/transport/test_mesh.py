"""Replicas converging over real websockets on loopback (DESIGN §5)."""

from __future__ import annotations

import anyio
import pytest

from crdtstate import AWSet, GCounter, PNCounter, Replica
from transport import open_mesh

from .helpers import converge

pytestmark = pytest.mark.anyio


async def test_two_replicas_converge_after_concurrent_updates() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        # Updates made before the mesh exists travel in the digest exchange.
        await a.container("tools", AWSet).update(lambda s: s.add("offline-a"))
        await b.container("tools", AWSet).update(lambda s: s.add("offline-b"))
        async with open_mesh(a) as mesh_a, open_mesh(b, peers=[mesh_a.url]) as mesh_b:
            with anyio.fail_after(10):
                await mesh_b.wait_for_peers({"a"})
                await mesh_a.wait_for_peers({"b"})

            async def hammer(replica: Replica) -> None:
                hits = replica.container("hits", PNCounter)
                tools = replica.container("tools", AWSet)
                for i in range(50):
                    await hits.update(lambda n: n.increment(2))
                    await hits.update(lambda n: n.decrement())
                    await tools.update(lambda s, i=i: s.add(f"{replica.id}-{i % 7}"))

            async with anyio.create_task_group() as nursery:
                nursery.start_soon(hammer, a)
                nursery.start_soon(hammer, b)
            await converge([a, b])

        for replica in (a, b):
            assert await replica.container("hits", PNCounter).get() == 100
            tools = await replica.container("tools", AWSet).get()
            assert tools == {"offline-a", "offline-b"} | {
                f"{r}-{i}" for r in "ab" for i in range(7)
            }


async def test_three_replicas_converge_and_removes_propagate() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b, Replica.open("c") as c:
        async with (
            open_mesh(a) as mesh_a,
            open_mesh(b, peers=[mesh_a.url]) as mesh_b,
            open_mesh(c, peers=[mesh_a.url, mesh_b.url]) as mesh_c,
        ):
            with anyio.fail_after(10):
                for mesh in (mesh_a, mesh_b, mesh_c):
                    await mesh.wait_for_peers(2)
            for replica in (a, b, c):
                await replica.container("seen", GCounter).update(lambda n: n.increment(5))
                await replica.container("s", AWSet).update(lambda s, r=replica: s.add(r.id))
            await converge([a, b, c])
            await b.container("s", AWSet).update(lambda s: s.discard("a"))
            await converge([a, b, c])
            for replica in (a, b, c):
                assert await replica.container("seen", GCounter).get() == 15
                assert await replica.container("s", AWSet).get() == {"b", "c"}


async def test_subscriber_sees_remote_change_with_sender_as_origin() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        async with open_mesh(a) as mesh_a, open_mesh(b, peers=[mesh_a.url]) as mesh_b:
            with anyio.fail_after(10):
                await mesh_b.wait_for_peers({"a"})
            tools_b = b.container("tools", AWSet)
            async with tools_b.subscribe() as changes:
                await a.container("tools", AWSet).update(lambda s: s.add("search"))
                with anyio.fail_after(10):
                    change = await changes.__anext__()
            assert change.origin == "a"
            assert change.value == {"search"}
            assert change.previous == frozenset()
            assert change.version == a.container("tools", AWSet).version


async def test_a_wrong_secret_never_sees_or_changes_state() -> None:
    async with Replica.open("a") as a, Replica.open("intruder") as x:
        await a.container("secret", AWSet).update(lambda s: s.add("only-for-friends"))
        await x.container("secret", AWSet).update(lambda s: s.add("injected"))
        before = a.digest()
        async with open_mesh(a, secret="right") as mesh_a:
            async with open_mesh(x, listen=None, peers=[mesh_a.url], secret="wrong"):
                await anyio.sleep(0.5)  # several dial attempts, all refused
                assert mesh_a.peers == set()
        assert a.digest() == before
        assert await x.container("secret", AWSet).get() == {"injected"}


async def test_matching_secrets_sync() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        await a.container("n", PNCounter).update(lambda n: n.increment(7))
        async with (
            open_mesh(a, secret=b"s3cret") as mesh_a,
            open_mesh(b, peers=[mesh_a.url], secret=b"s3cret"),
        ):
            await converge([a, b])
        assert await b.container("n", PNCounter).get() == 7


async def test_replicas_dialing_each_other_keep_one_session() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        async with open_mesh(a) as mesh_a, open_mesh(b, peers=[mesh_a.url]) as mesh_b:
            # a also dials b: now each has dialed the other.
            async with open_mesh(a, listen=None, peers=[mesh_b.url]) as mesh_a2:
                # b keeps the session dialed by the smaller id (a's) and drops its own; b's
                # redials may flicker on mesh_a, so wait for the settled state (hang guard
                # only: a fixed sleep failed under a loaded machine).
                with anyio.fail_after(20):
                    while not (mesh_a2.peers == {"b"} and not mesh_a.peers):
                        await anyio.sleep(0.01)
                assert mesh_b.peers == {"a"}
                await a.container("n", PNCounter).update(lambda n: n.increment())
                await converge([a, b])
