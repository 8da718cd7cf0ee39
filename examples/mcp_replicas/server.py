"""One MCP server replica: the SDK's `MCPServer` over streamable HTTP, served by hypercorn's trio
worker in the same trio run as a crdtstate replica that syncs with its peers over websockets.

Start it three times (see README.md, "MCP server replicas"). Its tools use the shared state:
tools and resources registered on any replica are listed on all (with `list_changed` events),
rate limits hold across replicas, and MCP sessions are leased by the replica holding them.

It prints one JSON line when ready ({"id", "mcp", "mesh"}), then a status line ({"id",
"peers"}) each time the set of connected peers changes.
`--db` keeps the replica in a SQLite file (what it acknowledged survives a crash, and the hard
quota holds across restarts); without it the replica lives in memory, and a restart with the
same `--id` regains from its peers what reached them. `--secret-file` makes peers prove a
shared secret.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources.types import FunctionResource
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourcesListChanged, ToolsListChanged
from mcp.shared.tool_name_validation import TOOL_NAME_REGEX

from crdtstate import Replica
from crdtstate.recipes.kv import KeyValueStore
from crdtstate.recipes.leases import SessionLeases
from crdtstate.recipes.ratelimit import QuotaLimiter, WindowLimiter
from crdtstate.recipes.registry import Registry
from transport import open_mesh

log = logging.getLogger("mcp_replicas")
SESSION_HEADER = b"mcp-session-id"
OWNER_HEADER = b"mcp-session-owner"
ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+")
# The tools every replica serves itself: a registered tool may not take their names.
BUILT_IN_TOOLS = frozenset(
    {
        "whoami",
        "register_tool",
        "register_resource",
        "spend",
        "quota_left",
        "hit",
        "session_info",
        "kv_set",
        "kv_get",
    }
)


class SharedState:
    """Everything the replicas share, on one crdtstate replica."""

    def __init__(self, replica: Replica, args: argparse.Namespace) -> None:
        self.replica = replica
        self.tools = Registry(replica, "mcp/tools")
        self.resources = Registry(replica, "mcp/resources")
        self.leases = SessionLeases(replica, forward="", ttl=args.lease_ttl, name="mcp/sessions")
        self.quota = QuotaLimiter(replica, cap=args.quota, window=args.window, members=args.member)
        self.hits = WindowLimiter(replica, limit=args.quota, window=args.window)
        self.kv = KeyValueStore(replica, "mcp/kv")


def build_server(state: SharedState, bus: InMemorySubscriptionBus) -> MCPServer:
    mcp = MCPServer(f"crdtstate-{state.replica.id}", subscriptions=bus, log_level="WARNING")
    me = state.replica.id

    @mcp.tool()
    def whoami(ctx: Context) -> dict[str, Any]:
        """Which replica answered, and the MCP session id of the request (if it has one)."""
        request = ctx.request_context.request
        session = request.headers.get("mcp-session-id") if request is not None else None
        return {"replica": me, "session": session}

    @mcp.tool()
    async def register_tool(name: str, description: str) -> str:
        """Register a tool on every replica (it echoes which replica served it)."""
        problem = tool_name_problem(name)
        if problem is not None:
            raise ToolError(problem)
        await state.tools.register(name, {"description": description, "by": me})
        return f"registered {name} through {me}"

    @mcp.tool()
    async def register_resource(uri: str, text: str) -> str:
        """Publish a text resource on every replica (again: replace its text everywhere)."""
        if not is_absolute_uri(uri):
            raise ToolError(f"invalid resource URI {uri!r}: expected scheme:rest, no spaces")
        await state.resources.register(uri, {"text": text, "by": me})
        return f"published {uri} through {me}"

    @mcp.tool()
    async def spend(client: str) -> dict[str, Any]:
        """One request against `client`'s hard quota, shared by all replicas."""
        allowed = await state.quota.acquire(client, wait=5.0)
        return {"allowed": allowed, "replica": me, "remaining": await state.quota.remaining(client)}

    @mcp.tool()
    async def quota_left(client: str) -> int:
        """What is left of `client`'s hard quota in this window, as this replica knows."""
        return await state.quota.remaining(client)

    @mcp.tool()
    async def hit(client: str) -> dict[str, Any]:
        """One request against `client`'s soft per-window limit."""
        allowed = await state.hits.hit(client)
        return {"allowed": allowed, "replica": me, "count": await state.hits.count(client)}

    @mcp.tool()
    def session_info(session_id: str) -> dict[str, Any] | None:
        """Who holds an MCP session, and where to forward its requests (None: no such lease)."""
        record = state.leases.get(session_id)
        if record is None:
            return None
        return {"owner": record.owner, "forward": record.forward, "expires_at": record.expires_at}

    @mcp.tool()
    async def kv_set(key: str, value: str, ttl: float | None = None) -> bool:
        await state.kv.set(key, value.encode(), ttl)
        return True

    @mcp.tool()
    async def kv_get(key: str) -> str | None:
        raw = await state.kv.get(key)
        return None if raw is None else raw.decode()

    return mcp


def tool_name_problem(name: Any) -> str | None:
    """Why `name` cannot be a registered tool (None: it can)."""
    if not isinstance(name, str) or not TOOL_NAME_REGEX.fullmatch(name):
        return f"invalid tool name {name!r}: use 1 to 128 letters, digits, '_', '-' or '.'"
    if name in BUILT_IN_TOOLS:
        return f"{name!r} is a built-in tool of every replica: choose another name"
    return None


async def mirror_tools(mcp: MCPServer, state: SharedState, bus: InMemorySubscriptionBus) -> None:
    """Keep the server's tool list equal to the registry; announce every change.

    Entries that cannot be tools (a name refused by `register_tool`, written by an older
    replica or another client of the state) are skipped with a warning, so one bad entry
    never stops the others from being mirrored.
    """
    mine: dict[str, str] = {}  # the registered tools this server holds: name -> description

    def make(name: str) -> Any:
        def dynamic() -> str:
            return f"{name} answered by {state.replica.id}"

        return dynamic

    async def apply(entries: dict[str, Any], origin: str) -> None:
        wanted: dict[str, str] = {}
        for name, spec in entries.items():
            problem = tool_name_problem(name)
            description = spec.get("description") if isinstance(spec, dict) else None
            if problem is None and not isinstance(description, str):
                problem = f"tool {name!r} has no text description"
            if problem is not None:
                log.warning("%s: not serving a registered tool: %s", state.replica.id, problem)
                continue
            wanted[name] = description
        for name in [n for n in mine if wanted.get(n) != mine[n]]:
            mcp.remove_tool(name)
            del mine[name]
        for name, description in wanted.items():
            if name not in mine:
                mcp.add_tool(make(name), name=name, description=description)
                mine[name] = description
        log.info("%s: tools now %s (change from %s)", state.replica.id, sorted(mine), origin)
        await bus.publish(ToolsListChanged())

    await apply(await state.tools.entries(), state.replica.id)
    await state.tools.watch(apply)


def is_absolute_uri(uri: Any) -> bool:
    """An absolute URI (RFC 3986: a scheme, ':', the rest) with no whitespace or controls."""
    return isinstance(uri, str) and ABSOLUTE_URI.fullmatch(uri) is not None


def shared_resource(state: SharedState, uri: str) -> FunctionResource:
    """A resource whose text is read from the registry at each read, so a re-registration
    serves the new text (the SDK keeps the first resource added under a URI)."""

    async def text() -> str:
        spec = (await state.resources.entries()).get(uri)
        return spec["text"] if isinstance(spec, dict) and isinstance(spec.get("text"), str) else ""

    return FunctionResource(uri=uri, name=uri, mime_type="text/plain", fn=text)


async def mirror_resources(
    mcp: MCPServer, state: SharedState, bus: InMemorySubscriptionBus
) -> None:
    """Serve registered resources (the SDK has no removal: they stay, read live)."""
    served: set[str] = set()

    async def apply(entries: dict[str, Any], origin: str) -> None:
        for uri in entries.keys() - served:
            if is_absolute_uri(uri):
                mcp.add_resource(shared_resource(state, uri))
            else:
                log.warning("%s: not serving resource %r: invalid URI", state.replica.id, uri)
            served.add(uri)
        await bus.publish(ResourcesListChanged())

    await apply(await state.resources.entries(), state.replica.id)
    await state.resources.watch(apply)


class SessionTracker:
    """ASGI middleware: lease each MCP session this replica opens, release it on DELETE, and
    answer 421 with the owner's address for a session another live replica holds."""

    def __init__(self, app: Any, state: SharedState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        raw = dict(scope["headers"]).get(SESSION_HEADER)
        sid = raw.decode() if raw else None
        leases = self.state.leases
        if sid is not None and sid not in leases.held:
            record = leases.get(sid)
            if record is not None and record.owner != self.state.replica.id:
                headers = [(OWNER_HEADER, record.forward.encode())]
                await send({"type": "http.response.start", "status": 421, "headers": headers})
                await send({"type": "http.response.body", "body": b"session held elsewhere"})
                return None

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start" and sid is None:
                created = dict(message.get("headers", [])).get(SESSION_HEADER)
                if created:
                    await leases.open(created.decode(), {"client": scope.get("client")})
            await send(message)

        await self.app(scope, receive, watch)
        if scope["method"] == "DELETE" and sid in leases.held:
            await leases.close(sid)
        return None


async def run(args: argparse.Namespace) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        secret = read_secret(args.secret_file) if args.secret_file else None
        async with (
            Replica.open(args.id, args.db) as replica,
            open_mesh(replica, listen=args.mesh, peers=args.peer, secret=secret) as mesh,
            trio.open_nursery() as nursery,
        ):
            state = SharedState(replica, args)
            bus = InMemorySubscriptionBus()
            mcp = build_server(state, bus)
            config = Config()
            config.bind = [args.http]
            config.accesslog = None
            app = SessionTracker(mcp.streamable_http_app(), state)
            binds = await nursery.start(serve, app, config)
            url = f"{binds[0]}/mcp"
            state.leases.forward = url
            await nursery.start(state.leases.run)
            await nursery.start(state.quota.run_grants)
            nursery.start_soon(mirror_tools, mcp, state, bus)
            nursery.start_soon(mirror_resources, mcp, state, bus)
            print(json.dumps({"id": replica.id, "mcp": url, "mesh": mesh.url}), flush=True)
            nursery.start_soon(report, replica, mesh)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


async def report(replica: Replica, mesh: Any) -> None:
    """A status line when the connected peers change, not on a timer: the client's output
    must not drown in it."""
    shown = None
    while True:
        if (peers := sorted(mesh.peers)) != shown:
            print(json.dumps({"id": replica.id, "peers": peers}), flush=True)
            shown = peers
        await trio.sleep(0.1)


def read_secret(path: Path) -> bytes:
    """The shared secret in `path` (without its trailing newline); SystemExit if empty."""
    secret = path.read_bytes().rstrip(b"\r\n")
    if not secret:
        raise SystemExit(f"{path}: the secret file is empty")
    return secret


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--id", required=True, help="this replica's id")
    parser.add_argument("--http", default="127.0.0.1:0", help="host:port for MCP clients")
    parser.add_argument("--mesh", default="127.0.0.1:0", help="host:port for peer replicas")
    parser.add_argument("--peer", action="append", default=[], help="a peer's ws:// URL")
    parser.add_argument("--member", action="append", default=[], help="quota members (ids)")
    parser.add_argument("--quota", type=int, default=100, help="requests per client per window")
    parser.add_argument("--window", type=float, default=60.0, help="rate-limit window, seconds")
    parser.add_argument("--lease-ttl", type=float, default=30.0, help="session lease, seconds")
    parser.add_argument("--db", type=Path, help="keep the replica in this SQLite file")
    parser.add_argument("--secret-file", type=Path, help="a file holding the peers' shared secret")
    args = parser.parse_args(argv)
    args.member = args.member or [args.id]
    return args


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    trio.run(run, parse())
