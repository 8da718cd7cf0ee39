"""The library runs on the event loop it is called from: a neutral test really runs under
its `anyio_backend`, and a mesh's sessions ride websockets' implementation for that loop."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import sniffio

from crdtstate import PNCounter, Replica
from transport import open_mesh
from transport.channel import WebSocketChannel

from .helpers import converge

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def linked_pair() -> AsyncIterator[tuple[Replica, Replica, list[Any]]]:
    """Replicas a and b in a mesh, connected both ways, with each end's websocket connection."""
    async with Replica.open("a") as a, Replica.open("b") as b:
        async with open_mesh(a) as mesh_a, open_mesh(b, peers=[mesh_a.url]) as mesh_b:
            await mesh_b.wait_for_peers({"a"}, timeout=10)
            await mesh_a.wait_for_peers({"b"}, timeout=10)
            connections = []
            for mesh in (mesh_a, mesh_b):
                channel = next(iter(mesh._sessions.values())).channel
                assert isinstance(channel, WebSocketChannel)
                connections.append(channel.connection)
            yield a, b, connections


async def test_a_mesh_uses_the_websockets_implementation_of_the_running_loop(
    anyio_backend: str,
) -> None:
    assert sniffio.current_async_library() == anyio_backend
    async with linked_pair() as (a, b, connections):
        for connection in connections:
            module = type(connection).__module__
            assert module.startswith(f"websockets.{anyio_backend}."), module
        await a.container("hits", PNCounter).update(lambda n: n.increment(3))
        await converge([a, b])
        assert await b.container("hits", PNCounter).get() == 3


def _socket_of(connection: Any) -> Any:
    transport = getattr(connection, "transport", None)  # websockets.asyncio
    return transport.get_extra_info("socket") if transport else connection.stream.socket


async def test_both_ends_of_a_session_send_small_frames_at_once(anyio_backend: str) -> None:
    """Nagle is off on the dialed and on the accepted socket (asyncio leaves it on for the
    listener's sockets anyio makes): else a delta waits for the peer's next ACK."""
    async with linked_pair() as (_, _, connections):
        for connection in connections:
            sock = _socket_of(connection)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
