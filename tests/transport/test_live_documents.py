"""Live document edits between replicas connected by real websockets (issue 13).

Edits made in a row while the previous push is in flight are joined into one push; before
the fix the joined push could lack edits and was acknowledged all the same, so the peer stayed
behind for good. Each test waits for convergence under a hang guard (never a timed assert)
and then checks the texts are exactly equal.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import pytest

from crdtstate import Document, Replica
from transport import open_mesh
from transport.yjs import YjsRooms

from .yjs_node import NodeClient, install_yjs

TOKEN = "live-token"


async def converged(*replicas: Replica) -> None:
    """Wait until every replica has the same state digest (a hang guard bounds it)."""
    with anyio.fail_after(30):
        while len({r.digest() for r in replicas}) > 1:
            await anyio.sleep(0.01)


async def agreed(*replicas: Replica, clients: tuple[NodeClient, ...]) -> str:
    """The text once the replicas and the Yjs clients all hold the same. The clients' last
    edits may still be on their way to a replica when the replicas agree, so the replicas'
    text is read again until the clients' (reported on each update) matches it."""
    while True:
        await converged(*replicas)
        text = (await replicas[0].container("notes", Document).get())["body"]
        if all(client.latest.get("text", {}).get("text") == text for client in clients):
            return text
        await anyio.sleep(0.01)


def random_edit(rng: random.Random, mark: str) -> Any:
    """Insert `mark` anywhere, or delete a few characters anywhere."""
    where, delete = rng.random(), rng.random() < 0.3

    def updater(d: Any) -> None:
        body = d.text("body")
        n = len(body)
        if delete and n:
            start = min(int(where * n), n - 1)
            del body[start : min(n, start + 3)]
        else:
            body.insert(min(int(where * (n + 1)), n), mark)

    return updater


@pytest.mark.anyio  # also under asyncio: the path it covers is backend-neutral
async def test_three_edits_in_a_row_reach_the_peer() -> None:
    """The issue's reproduction: the peer used to stay at `hello world;` forever."""
    async with Replica.open("a") as a, Replica.open("b") as b:
        async with open_mesh(a) as mesh_a, open_mesh(b, peers=[mesh_a.url]) as mesh_b:
            with anyio.fail_after(10):
                await mesh_b.wait_for_peers({"a"})
            doc = a.container("doc", Document)
            await doc.update(lambda d: d.text("t").insert(0, "hello world;"))
            await doc.update(lambda d: d.text("t").__delitem__(slice(0, 6)))
            await doc.update(lambda d: d.text("t").__iadd__("tail;"))
            for _ in range(20):  # and many more, each depending on the one before
                await doc.update(lambda d: d.text("t").insert(0, "x"))
                await doc.update(lambda d: d.text("t").__delitem__(slice(0, 1)))
            await converged(a, b)
            assert dict(await b.container("doc", Document).get()) == {"t": "world;tail;"}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_concurrent_live_edits_on_two_connected_replicas_converge_exactly(
    seed: int,
) -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        async with open_mesh(a) as mesh_a, open_mesh(b, peers=[mesh_a.url]) as mesh_b:
            with anyio.fail_after(10):
                await mesh_b.wait_for_peers({"a"})

            async def edit(replica: Replica, rng: random.Random) -> None:
                doc = replica.container("doc", Document)
                for i in range(300):
                    await doc.update(random_edit(rng, f"{replica.id}{i};"))
                    if rng.random() < 0.2:
                        await anyio.sleep(0)  # let pushes go out mid-burst, sometimes

            async with anyio.create_task_group() as nursery:
                nursery.start_soon(edit, a, random.Random(seed))
                nursery.start_soon(edit, b, random.Random(seed + 100))
            await converged(a, b)
            text_a = (await a.container("doc", Document).get())["body"]
            text_b = (await b.container("doc", Document).get())["body"]
            assert text_a == text_b


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return install_yjs()


@pytest.mark.anyio  # also under asyncio: the path it covers is backend-neutral
async def test_yjs_clients_on_a_line_with_python_edits_on_the_relay(node_modules: Path) -> None:
    """Real y-websocket clients on a and c of the line a - b - c edit live while Python edits
    the same text on the relay b: all five copies end exactly equal."""
    rng = random.Random(7)
    async with (
        Replica.open("a") as a,
        Replica.open("b") as b,
        Replica.open("c") as c,
        anyio.create_task_group() as nursery,
    ):
        rooms_a, rooms_c = YjsRooms(a, token=TOKEN), YjsRooms(c, token=TOKEN)
        async with (
            open_mesh(a, routes=rooms_a.routes()) as mesh_a,
            open_mesh(c, routes=rooms_c.routes()) as mesh_c,
            open_mesh(b, listen=None, peers=[mesh_a.url, mesh_c.url]) as mesh_b,
        ):
            with anyio.fail_after(60):  # a hang guard, not a timing assertion
                await mesh_b.wait_for_peers(["a", "c"])
                one = await NodeClient.start(
                    nursery, node_modules, f"{mesh_a.url}/yjs", "notes", TOKEN, "one"
                )
                two = await NodeClient.start(
                    nursery, node_modules, f"{mesh_c.url}/yjs", "notes", TOKEN, "two"
                )
                await one.wait_for(lambda e: e.get("sync", {}).get("synced"))
                await two.wait_for(lambda e: e.get("sync", {}).get("synced"))
                relay = b.container("notes", Document)
                for i in range(150):
                    for client in (one, two):
                        await client.send(
                            cmd="edit",
                            at=rng.random(),
                            insert=f"{'o' if client is one else 't'}{i};",
                            delete=3 if rng.random() < 0.3 else 0,
                            count=i,
                        )
                    await relay.update(random_edit(rng, f"b{i};"))
                    if i % 10 == 0:
                        await anyio.sleep(0.005)  # let frames interleave with the edits
                await one.wait_for(lambda e: e.get("edited", {}).get("count") == 149)
                await two.wait_for(lambda e: e.get("edited", {}).get("count") == 149)
                python = await agreed(a, b, c, clients=(one, two))
                assert (await a.container("notes", Document).get())["body"] == python
                assert (await c.container("notes", Document).get())["body"] == python
                for client in (one, two):
                    await client.send(cmd="quit")
                    await client.process.wait()
        nursery.cancel_scope.cancel()
