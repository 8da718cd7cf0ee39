"""One MCP server replica run the stock way: the SDK's `MCPServer.run()` under asyncio, over
streamable HTTP (uvicorn) or stdio (for desktop agents), holding its crdtstate replica in the
server's lifespan. It serves the same tools and state as `server.py` (the trio replica,
through `replica_server.py`) and joins the same websocket mesh.

Over HTTP it prints one JSON line when it accepts MCP clients ({"id", "mcp", "mesh"}), then a
status line ({"id", "peers"}) each time the set of connected peers changes. Over stdio, where
standard output carries the protocol, those lines go to standard error, and the replica dials
its `--peer`s without listening unless `--mesh` is given.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TextIO

import anyio
from replica_server import (
    ReplicaServer,
    SharedState,
    add_arguments,
    finish_arguments,
    open_shared_state,
    report,
    until_listening,
)


def replica_lifespan(
    args: argparse.Namespace, mcp_url: str, out: TextIO, listening: tuple[str, int] | None
) -> Callable[[ReplicaServer], AbstractAsyncContextManager[SharedState]]:
    """The server's lifespan: the replica is open while the server runs. It reports ready once
    the HTTP server at `listening` accepts connections (uvicorn binds after the lifespan has
    started), or at once over stdio (`listening` None)."""

    @asynccontextmanager
    async def lifespan(server: ReplicaServer) -> AsyncIterator[SharedState]:
        async with open_shared_state(server, args) as state, anyio.create_task_group() as tasks:
            state.leases.forward = mcp_url
            tasks.start_soon(report_when_listening, state, mcp_url, out, listening)
            try:
                yield state
            finally:
                tasks.cancel_scope.cancel()

    return lifespan


async def report_when_listening(
    state: SharedState, mcp_url: str, out: TextIO, listening: tuple[str, int] | None
) -> None:
    if listening is not None:
        await until_listening(*listening)
    await report(state, mcp_url, out)


def http_address(bind: str) -> tuple[str, int]:
    """`host:port` as a pair; port 0 becomes a free port now, since `run()` only takes a port
    number and could not tell us which one it was given."""
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")  # [::1]:8000
    if int(port) != 0:
        return host, int(port)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return host, probe.getsockname()[1]


def main(args: argparse.Namespace) -> None:
    if args.transport == "stdio":
        lifespan = replica_lifespan(args, "stdio", sys.stderr, None)
        ReplicaServer(args.id, lifespan=lifespan).run(transport="stdio")
        return
    host, port = http_address(args.http)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/mcp"
    lifespan = replica_lifespan(args, url, sys.stdout, (host, port))
    ReplicaServer(args.id, lifespan=lifespan).run(transport="streamable-http", host=host, port=port)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument(
        "--transport",
        choices=["streamable-http", "stdio"],
        default="streamable-http",
        help="serve MCP clients over HTTP (uvicorn) or one agent over stdin and stdout",
    )
    parser.add_argument("--http", default="127.0.0.1:0", help="host:port for MCP clients")
    parser.add_argument(
        "--mesh", help="host:port for peer replicas (default: 127.0.0.1:0; stdio: dial only)"
    )
    args = finish_arguments(parser.parse_args(argv))
    if args.mesh is None and args.transport != "stdio":
        args.mesh = "127.0.0.1:0"
    return args


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    main(parse())
