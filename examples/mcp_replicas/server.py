"""One MCP server replica: the SDK's `MCPServer` over streamable HTTP, served by hypercorn's trio
worker in the same trio run as a crdtstate replica that syncs with its peers over websockets.

Start it three times (see README.md, "MCP server replicas"). Its tools use the shared state:
tools and resources registered on any replica are listed on all (with `list_changed` events),
rate limits hold across replicas, and MCP sessions are leased by the replica holding them.
The tools and the state are in `replica_server.py`, shared with `stock_server.py` (the same
server run by `MCPServer.run()` under asyncio), whose replicas join the same mesh.

It prints one JSON line when ready ({"id", "mcp", "mesh"}), then a status line ({"id",
"peers"}) each time the set of connected peers changes.
`--db` keeps the replica in a SQLite file (what it acknowledged survives a crash, and the hard
quota holds across restarts); without it the replica lives in memory, and a restart with the
same `--id` regains from its peers what reached them. `--secret-file` makes peers prove a
shared secret.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from replica_server import ReplicaServer, add_arguments, finish_arguments, open_shared_state, report


async def run(args: argparse.Namespace) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        mcp = ReplicaServer(args.id)
        async with open_shared_state(mcp, args) as state, trio.open_nursery() as nursery:
            config = Config()
            config.bind = [args.http]
            config.accesslog = None
            binds = await nursery.start(serve, mcp.streamable_http_app(), config)
            url = f"{binds[0]}/mcp"
            state.leases.forward = url
            nursery.start_soon(report, state, url, sys.stdout)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--http", default="127.0.0.1:0", help="host:port for MCP clients")
    parser.add_argument("--mesh", default="127.0.0.1:0", help="host:port for peer replicas")
    return finish_arguments(parser.parse_args(argv))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    trio.run(run, parse())
