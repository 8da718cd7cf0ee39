"""Closing a `WebSocketChannel` ends its connection even with frames waiting unread.

websockets (17.x, trio) stops reading a connection once more than `max_queue` messages wait
unread, and once the connection is closed it never resumes: the connection's reading task,
and the `connect()` block (or the server's handler) around it, then wait forever. A session
driver stops reading exactly so when a link breaks under load; the mesh's dialer sat in that
block and never redialed its peer (found by `python -m simulations faults`).
"""

from __future__ import annotations

import contextlib
import functools

import trio
from websockets.exceptions import ConnectionClosed
from websockets.trio.client import connect
from websockets.trio.server import ServerConnection, serve

from transport import WebSocketChannel


async def flood(connection: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        for _ in range(100):
            await connection.send(b"x" * 100)
        await trio.sleep_forever()


async def test_closing_a_channel_with_unread_frames_ends_the_connection() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(functools.partial(serve, flood, 0, host="127.0.0.1"))
        port = server.listeners[0].socket.getsockname()[1]
        with trio.fail_after(30):  # a hang guard: without the fix the block below never exits
            async with connect(f"ws://127.0.0.1:{port}", close_timeout=1) as connection:
                channel = WebSocketChannel(connection)
                assert await channel.receive() == b"x" * 100
                while connection.recv_flow_control is None:  # until reading is paused
                    await trio.sleep(0.01)
                await channel.close(1000, "done")
        nursery.cancel_scope.cancel()
