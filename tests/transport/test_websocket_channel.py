"""Closing a `WebSocketChannel` ends its connection even with frames waiting unread.

websockets (17.x, trio and asyncio) stops reading a connection once more than `max_queue`
messages wait unread, and once the connection is closed it never resumes: the connection's
reading task, and the `connect()` block (or the server's handler) around it, then wait
forever. A session driver stops reading exactly so when a link breaks under load; the mesh's
dialer sat in that block and never redialed its peer (found by `python -m simulations faults`).
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import pytest
from websockets.exceptions import ConnectionClosed

from transport import WebSocketChannel
from transport.websocket import bind, connect, reading_paused

pytestmark = pytest.mark.anyio


async def flood(connection: Any) -> None:
    with contextlib.suppress(ConnectionClosed):
        for _ in range(100):
            await connection.send(b"x" * 100)
        await anyio.sleep_forever()


async def test_closing_a_channel_with_unread_frames_ends_the_connection() -> None:
    listening = await bind("127.0.0.1", 0)
    async with anyio.create_task_group() as tasks:
        await tasks.start(listening.serve, flood)
        port = listening.address[1]
        with anyio.fail_after(30):  # a hang guard: without the fix the block below never exits
            async with connect(f"ws://127.0.0.1:{port}", close_timeout=60) as connection:
                channel = WebSocketChannel(connection)
                assert await channel.receive() == b"x" * 100
                while not reading_paused(connection):
                    await anyio.sleep(0.01)
                await channel.close(1000, "done")
        tasks.cancel_scope.cancel()
