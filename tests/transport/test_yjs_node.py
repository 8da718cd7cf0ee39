"""A real Yjs client (Node.js, yjs 13 + y-websocket 3) joins a replica's document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from websockets.exceptions import ConnectionClosed

from antientropy import yprotocol as yp
from crdtstate import Document, Replica
from transport import open_mesh
from transport.websocket import connect
from transport.yjs import YjsRooms

from .yjs_node import NodeClient, install_yjs

TOKEN = "s3cret-token"
MARKS = ("node-offline;", "node-online;", "py-before;", "py-after;")


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return install_yjs()


def append(text: str) -> Any:
    return lambda d: d.text("body").insert(len(d.text("body")), text)


async def test_a_node_yjs_client_and_a_replica_edit_one_text_and_converge(
    node_modules: Path,
) -> None:
    async with Replica.open("py") as replica, anyio.create_task_group() as nursery:
        rooms = YjsRooms(replica, token=TOKEN)
        async with open_mesh(replica, routes=rooms.routes()) as mesh:
            notes = replica.container("notes", Document)
            await notes.update(append("py-before;"))  # before the client connects
            node = await NodeClient.start(
                nursery, node_modules, f"{mesh.url}/yjs", "notes", TOKEN, "node"
            )
            with anyio.fail_after(30):  # a hang guard, not a timing assertion
                await node.wait_for(
                    lambda e: "sync" in e and "node-online;" in e.get("text", {}).get("text", "")
                )
                await notes.update(append("py-after;"))  # while the client is connected
                await node.wait_for(lambda e: "py-after;" in e.get("text", {}).get("text", ""))
                while "node-online;" not in (await notes.get()).get("body", ""):
                    await anyio.sleep(0.01)
                while not rooms.awareness("notes"):
                    await anyio.sleep(0.01)
            python_text = (await notes.get())["body"]
            node_text = node.latest["text"]["text"]
            assert python_text == node_text
            assert all(python_text.count(mark) == 1 for mark in MARKS), python_text
            [state] = rooms.awareness("notes").values()
            assert state["user"] == {"name": "node"}
            await node.send(cmd="quit")
            await node.process.wait()
        nursery.cancel_scope.cancel()


async def test_a_wrong_token_is_refused_and_peers_still_use_the_root_path() -> None:
    async with Replica.open("py") as replica, Replica.open("peer") as peer:
        rooms = YjsRooms(replica, token=TOKEN)
        async with open_mesh(replica, routes=rooms.routes()) as mesh:
            async with connect(f"{mesh.url}/yjs/notes?token=wrong") as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            assert "notes" not in replica.names()
            async with open_mesh(peer, peers=[mesh.url]) as peer_mesh:
                with anyio.fail_after(10):
                    await peer_mesh.wait_for_peers(["py"])


@pytest.mark.anyio  # also under asyncio: the path it covers is backend-neutral
async def test_the_endpoint_speaks_y_protocols_to_a_minimal_client() -> None:
    """Sync step 1/2 and an update by hand, checking the server's side of the exchange."""
    async with Replica.open("py") as replica:
        rooms = YjsRooms(replica, token=TOKEN)
        notes = replica.container("notes", Document)
        await notes.update(append("hello"))
        async with (
            open_mesh(replica, routes=rooms.routes()) as mesh,
            connect(f"{mesh.url}/yjs/notes?token={TOKEN}") as ws,
        ):
            with anyio.fail_after(10):
                first = yp.decode_frame(await ws.recv())
                assert isinstance(first, yp.SyncStep1)
                await ws.send(yp.sync_step1(b"\x00"))
                step2 = yp.decode_frame(await ws.recv())
                assert isinstance(step2, yp.SyncStep2)
                mirror = Document(step2.update)
                assert mirror.value == {"body": "hello"}
                # a malformed update closes the connection with a protocol error
                await ws.send(yp.sync_update(b"\xff\xff\xff"))
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1002
            assert await notes.get() == {"body": "hello"}


async def test_node_yjs_clients_on_two_replicas_see_each_others_awareness(
    node_modules: Path,
) -> None:
    """Two real y-websocket clients, on replicas a and c of a line a - b - c."""
    async with (
        Replica.open("a") as a,
        Replica.open("b") as b,
        Replica.open("c") as c,
        anyio.create_task_group() as nursery,
    ):
        rooms_a, rooms_c = YjsRooms(a, token=TOKEN), YjsRooms(c, token=TOKEN)
        async with (
            open_mesh(a, routes=rooms_a.routes()) as mesh_a,  # the replica's hub: no wiring
            open_mesh(c, routes=rooms_c.routes()) as mesh_c,
            open_mesh(b, listen=None, peers=[mesh_a.url, mesh_c.url]) as mesh_b,
        ):
            with anyio.fail_after(30):  # a hang guard, not a timing assertion
                await mesh_b.wait_for_peers(["a", "c"])
                one = await NodeClient.start(
                    nursery, node_modules, f"{mesh_a.url}/yjs", "notes", TOKEN, "one"
                )
                two = await NodeClient.start(
                    nursery, node_modules, f"{mesh_c.url}/yjs", "notes", TOKEN, "two"
                )
                both = ["one", "two"]
                await one.wait_for(lambda e: e.get("awareness", {}).get("users") == both)
                await two.wait_for(lambda e: e.get("awareness", {}).get("users") == both)
                await one.send(cmd="quit")
                await one.process.wait()
                await two.wait_for(lambda e: e["awareness"]["users"] == ["two"])
                await two.send(cmd="quit")
                await two.process.wait()
        nursery.cancel_scope.cancel()
