"""A bare websockets echo server in its own process: the floor for mesh latency.

`--backend asyncio` serves with `websockets.asyncio` instead of `websockets.trio`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio

from transport.websocket import bind


async def echo(connection: Any) -> None:
    async for message in connection:
        await connection.send(message)


async def main() -> None:
    listening = await bind("127.0.0.1", 0)
    async with anyio.create_task_group() as tasks:
        await tasks.start(
            lambda task_status: listening.serve(echo, task_status=task_status, compression=None)
        )
        print(json.dumps({"url": f"ws://127.0.0.1:{listening.address[1]}"}), flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["trio", "asyncio"], default="trio")
    try:
        anyio.run(main, backend=parser.parse_args().backend)
    except KeyboardInterrupt:
        sys.exit(0)
