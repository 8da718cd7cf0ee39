"""The library runs on the event loop it is called from: a neutral test really runs under
its `anyio_backend`, and a mesh's sessions ride websockets' implementation for that loop."""

from __future__ import annotations

import pytest
import sniffio

from crdtstate import PNCounter, Replica
from transport import open_mesh
from transport.channel import WebSocketChannel

from .helpers import converge

pytestmark = pytest.mark.anyio


async def test_a_mesh_uses_the_websockets_implementation_of_the_running_loop(
    anyio_backend: str,
) -> None:
    assert sniffio.current_async_library() == anyio_backend
    async with Replica.open("a") as a, Replica.open("b") as b:
        async with open_mesh(a) as mesh_a, open_mesh(b, peers=[mesh_a.url]) as mesh_b:
            await mesh_b.wait_for_peers({"a"}, timeout=10)
            await mesh_a.wait_for_peers({"b"}, timeout=10)
            for mesh in (mesh_a, mesh_b):
                channel = next(iter(mesh._sessions.values())).channel
                assert isinstance(channel, WebSocketChannel)
                module = type(channel.connection).__module__
                assert module.startswith(f"websockets.{anyio_backend}."), module
            await a.container("hits", PNCounter).update(lambda n: n.increment(3))
            await converge([a, b])
            assert await b.container("hits", PNCounter).get() == 3
