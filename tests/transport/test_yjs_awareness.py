"""Yjs awareness across a mesh: clients of different replicas see each other's presence.

Three replicas on loopback websockets in a line a - b - c (a and c never meet); a minimal
y-websocket client (y-protocols frames over the running loop's websockets) joins room "notes"
on a and another on c. b serves no Yjs client at all: it only relays.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.abc
import pytest
from websockets.exceptions import ConnectionClosed

from antientropy import yprotocol as yp
from crdtstate import Replica
from transport import Mesh, open_mesh
from transport.presence import PresenceHub
from transport.websocket import Connection, close_connection, connect
from transport.yjs import YjsRooms

TOKEN = "s3cret-token"


class YClient:
    """The awareness half of a y-websocket client; `seen` mirrors what the server told it."""

    def __init__(self, ws: Connection, client_id: int) -> None:
        self.ws = ws
        self.id = client_id
        self.clock = 0
        self.seen = yp.Awareness()
        self.received: list[yp.AwarenessEntry] = []

    async def announce(self, state: dict | None) -> None:
        self.clock += 1
        await self.ws.send(yp.awareness_frame([yp.AwarenessEntry(self.id, self.clock, state)]))

    async def wait_for(self, condition: Callable[[YClient], bool]) -> None:
        while not condition(self):
            message = yp.decode_frame(await self.ws.recv())
            if isinstance(message, yp.AwarenessUpdate):
                self.received.extend(message.entries)
                self.seen.apply(message.entries)

    def removal_of(self, client: int) -> yp.AwarenessEntry | None:
        return next((e for e in self.received if e.client == client and e.state is None), None)


@asynccontextmanager
async def yclient(mesh: Mesh, client_id: int) -> AsyncIterator[YClient]:
    async with connect(f"{mesh.url}/yjs/notes?token={TOKEN}") as ws:
        yield YClient(ws, client_id)


async def stay_connected(
    mesh: Mesh, client_id: int, *, task_status: anyio.abc.TaskStatus[YClient]
) -> None:
    """A client that stays until its server drops it (it never leaves by itself)."""
    async with yclient(mesh, client_id) as client:
        task_status.started(client)
        with contextlib.suppress(ConnectionClosed):
            await client.wait_for(lambda c: False)


@asynccontextmanager
async def node(
    name: str, *, peers: list[str] = (), yjs: bool = True, timeout: float = 30.0
) -> AsyncIterator[Mesh]:
    """A replica's mesh listening on loopback; with `yjs`, serving room "notes" to clients
    (`mesh.rooms`). Every hub drops peers' entries `timeout` s after their last renewal."""
    async with Replica.open(name) as replica:
        hub = PresenceHub(timeout=timeout)
        rooms = YjsRooms(replica, token=TOKEN, presence=hub) if yjs else None
        routes = rooms.routes() if rooms else None
        async with open_mesh(replica, peers=peers, routes=routes, presence=hub) as mesh:
            mesh.rooms = rooms  # type: ignore[attr-defined]
            yield mesh


@dataclass
class Line:
    a: Mesh
    b: Mesh
    c: Mesh


async def connected(line: Line) -> Line:
    with anyio.fail_after(30):  # a hang guard, not a timing assertion
        await line.b.wait_for_peers(["a", "c"])
        await line.a.wait_for_peers(["b"])
        await line.c.wait_for_peers(["b"])
    assert "c" not in line.a.peers and "a" not in line.c.peers
    return line


@asynccontextmanager
async def line(timeout: float = 30.0) -> AsyncIterator[Line]:
    """a - b - c: a and c serve Yjs clients, b (which dials both) only relays."""
    async with (
        node("a", timeout=timeout) as a,
        node("c", timeout=timeout) as c,
        node("b", peers=[a.url, c.url], yjs=False, timeout=timeout) as b,
    ):
        yield await connected(Line(a, b, c))


@pytest.mark.anyio  # also under asyncio: the path it covers is backend-neutral
async def test_clients_of_the_two_ends_of_a_line_see_each_other_and_who_left() -> None:
    async with line() as mesh, yclient(mesh.a, 101) as one, yclient(mesh.c, 202) as two:
        with anyio.fail_after(30):  # a hang guard, not a timing assertion
            await one.announce({"user": {"name": "one"}, "cursor": 3})
            await two.wait_for(lambda c: 101 in c.seen.states)
            assert two.seen.states[101] == {"user": {"name": "one"}, "cursor": 3}

            await two.announce({"user": {"name": "two"}})
            await one.wait_for(lambda c: 202 in c.seen.states)
            assert one.seen.states[202] == {"user": {"name": "two"}}

            await one.announce({"user": {"name": "one"}, "cursor": 9})  # a newer state
            await two.wait_for(lambda c: c.seen.clocks.get(101) == 2)
            assert two.seen.states[101]["cursor"] == 9

            # the relay knows both; neither replica stored any of it
            assert mesh.b.presence.table.states("notes") == {
                101: {"user": {"name": "one"}, "cursor": 9},
                202: {"user": {"name": "two"}},
            }
            assert mesh.b.replica.names() == []  # b never even opened the document

            await close_connection(one.ws, 1000, "")  # client one disconnects from a
            await two.wait_for(lambda c: 101 not in c.seen.states)
            assert two.removal_of(101) == yp.AwarenessEntry(101, 3, None)  # clock bumped
            assert mesh.c.rooms.awareness("notes") == {202: {"user": {"name": "two"}}}


async def test_a_client_joining_later_is_told_who_is_already_there() -> None:
    async with line() as mesh, yclient(mesh.a, 101) as one:
        with anyio.fail_after(30):  # a hang guard, not a timing assertion
            await one.announce({"user": {"name": "one"}})
            while 101 not in mesh.c.rooms.awareness("notes"):
                await anyio.sleep(0.01)
            async with yclient(mesh.c, 202) as two:  # nothing announced on c yet
                await two.wait_for(lambda c: 101 in c.seen.states)


async def test_the_clients_of_a_replica_that_went_away_expire_elsewhere() -> None:
    """a stops while client one is still connected to it: nobody hears that one left, so c
    drops it when it is not renewed in time (a short timeout here; 30 s by default)."""
    async with (
        node("c", timeout=1.0) as c,
        node("b", peers=[c.url], yjs=False, timeout=1.0) as b,
        yclient(c, 202) as two,
    ):
        with anyio.fail_after(30):  # a hang guard, not a timing assertion
            async with anyio.create_task_group() as outlives_a:
                async with node("a", peers=[b.url], timeout=1.0) as a:
                    await connected(Line(a, b, c))
                    one = await outlives_a.start(stay_connected, a, 101)
                    await one.announce({"user": {"name": "one"}})
                    await two.wait_for(lambda c: 101 in c.seen.states)
                await two.wait_for(lambda c: 101 not in c.seen.states)
    # dropped by expiry (the same clock, null), not by a removal relayed from a (clock bumped)
    assert two.removal_of(101) == yp.AwarenessEntry(101, 1, None)


async def test_the_clients_beyond_a_relay_that_went_away_expire() -> None:
    """b, the only path between a and c, stops: a and c each drop the other's clients."""
    async with (
        node("a", timeout=1.0) as a,
        node("c", timeout=1.0) as c,
        yclient(a, 101) as one,
        yclient(c, 202) as two,
    ):
        with anyio.fail_after(30):  # a hang guard, not a timing assertion
            async with node("b", peers=[a.url, c.url], yjs=False, timeout=1.0) as b:
                await connected(Line(a, b, c))
                await one.announce({"user": {"name": "one"}})
                await two.announce({"user": {"name": "two"}})
                await two.wait_for(lambda c: 101 in c.seen.states)
                await one.wait_for(lambda c: 202 in c.seen.states)
            await two.wait_for(lambda c: 101 not in c.seen.states)
            await one.wait_for(lambda c: 202 not in c.seen.states)
            assert a.rooms.awareness("notes") == {101: {"user": {"name": "one"}}}
