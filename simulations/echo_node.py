"""A bare `websockets.trio` echo server in its own process: the floor for mesh latency."""

from __future__ import annotations

import functools
import json
import sys

import trio
from websockets.trio.server import ServerConnection, serve


async def echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            functools.partial(serve, echo, 0, host="127.0.0.1", compression=None)
        )
        port = server.listeners[0].socket.getsockname()[1]
        print(json.dumps({"url": f"ws://127.0.0.1:{port}"}), flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    try:
        trio.run(main)
    except KeyboardInterrupt:
        sys.exit(0)
