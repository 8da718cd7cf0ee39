"""What every MCP server replica serves, whichever way it runs: the shared state on a
crdtstate replica, the SDK's `MCPServer` with the tools that use it, the tasks that keep the
server's tool and resource lists equal to the replicated registries, and the ASGI middleware
that leases the MCP sessions a replica opens.

`server.py` runs it under trio (hypercorn's trio worker); `stock_server.py` runs it with the
SDK's own `MCPServer.run()` (uvicorn or stdio, asyncio). Both hold their replica inside
`open_shared_state` and join the same mesh.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import sniffio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources.types import FunctionResource
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourcesListChanged, ToolsListChanged
from mcp.shared.tool_name_validation import TOOL_NAME_REGEX
from starlette.applications import Starlette

from crdtstate import Replica
from crdtstate.recipes.kv import KeyValueStore
from crdtstate.recipes.leases import SessionLeases
from crdtstate.recipes.ratelimit import QuotaLimiter, WindowLimiter
from crdtstate.recipes.registry import Registry
from transport import open_mesh
from transport.mesh import Mesh

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

    def __init__(self, replica: Replica, mesh: Mesh, args: argparse.Namespace) -> None:
        self.replica = replica
        self.mesh = mesh
        self.tools = Registry(replica, "mcp/tools")
        self.resources = Registry(replica, "mcp/resources")
        self.leases = SessionLeases(replica, forward="", ttl=args.lease_ttl, name="mcp/sessions")
        self.quota = QuotaLimiter(replica, cap=args.quota, window=args.window, members=args.member)
        self.quota_wait = args.quota_wait  # seconds a spend without rights waits for a grant
        self.hits = WindowLimiter(replica, limit=args.quota, window=args.window)
        self.kv = KeyValueStore(replica, "mcp/kv")


class ReplicaServer(MCPServer):
    """The SDK's `MCPServer` serving the shared-state tools of replica `replica_id`.

    Its state exists only while `open_shared_state` holds the replica open (from a lifespan,
    or around the server), so tools read it at each call. The streamable HTTP app it builds,
    whoever serves it, leases the MCP sessions it opens (`SessionTracker`).
    """

    def __init__(self, replica_id: str, **settings: Any) -> None:
        self.bus = InMemorySubscriptionBus()
        super().__init__(
            f"crdtstate-{replica_id}", subscriptions=self.bus, log_level="WARNING", **settings
        )
        self.replica_id = replica_id
        self.shared: SharedState | None = None
        add_tools(self)

    @property
    def state(self) -> SharedState:
        if self.shared is None:
            raise RuntimeError(f"replica {self.replica_id} is not open")
        return self.shared

    def streamable_http_app(self, **options: Any) -> Starlette:
        app = super().streamable_http_app(**options)
        app.add_middleware(SessionTracker, server=self)
        return app


@asynccontextmanager
async def open_shared_state(
    server: ReplicaServer, args: argparse.Namespace
) -> AsyncIterator[SharedState]:
    """Open the replica and its mesh, attach the state to `server`, and keep the leases, the
    quota grants and the tool and resource lists running until the block exits."""
    secret = read_secret(args.secret_file) if args.secret_file else None
    async with (
        Replica.open(args.id, args.db) as replica,
        open_mesh(replica, listen=args.mesh, peers=args.peer, secret=secret) as mesh,
        anyio.create_task_group() as tasks,
    ):
        server.shared = state = SharedState(replica, mesh, args)
        try:
            await tasks.start(state.leases.run)
            await tasks.start(state.quota.run_grants)
            tasks.start_soon(mirror_tools, server)
            tasks.start_soon(mirror_resources, server)
            yield state
        finally:
            tasks.cancel_scope.cancel()
            server.shared = None


def add_tools(mcp: ReplicaServer) -> None:
    me = mcp.replica_id

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
        await mcp.state.tools.register(name, {"description": description, "by": me})
        return f"registered {name} through {me}"

    @mcp.tool()
    async def register_resource(uri: str, text: str) -> str:
        """Publish a text resource on every replica (again: replace its text everywhere)."""
        if not is_absolute_uri(uri):
            raise ToolError(f"invalid resource URI {uri!r}: expected scheme:rest, no spaces")
        await mcp.state.resources.register(uri, {"text": text, "by": me})
        return f"published {uri} through {me}"

    @mcp.tool()
    async def spend(client: str) -> dict[str, Any]:
        """One request against `client`'s hard quota, shared by all replicas."""
        quota = mcp.state.quota
        allowed = await quota.acquire(client, wait=mcp.state.quota_wait)
        return {"allowed": allowed, "replica": me, "remaining": await quota.remaining(client)}

    @mcp.tool()
    async def quota_left(client: str) -> int:
        """What is left of `client`'s hard quota in this window, as this replica knows."""
        return await mcp.state.quota.remaining(client)

    @mcp.tool()
    async def hit(client: str) -> dict[str, Any]:
        """One request against `client`'s soft per-window limit."""
        hits = mcp.state.hits
        allowed = await hits.hit(client)
        return {"allowed": allowed, "replica": me, "count": await hits.count(client)}

    @mcp.tool()
    def session_info(session_id: str) -> dict[str, Any] | None:
        """Who holds an MCP session, and where to forward its requests (None: no such lease)."""
        record = mcp.state.leases.get(session_id)
        if record is None:
            return None
        return {"owner": record.owner, "forward": record.forward, "expires_at": record.expires_at}

    @mcp.tool()
    async def kv_set(key: str, value: str, ttl: float | None = None) -> bool:
        await mcp.state.kv.set(key, value.encode(), ttl)
        return True

    @mcp.tool()
    async def kv_get(key: str) -> str | None:
        raw = await mcp.state.kv.get(key)
        return None if raw is None else raw.decode()


def tool_name_problem(name: Any) -> str | None:
    """Why `name` cannot be a registered tool (None: it can)."""
    if not isinstance(name, str) or not TOOL_NAME_REGEX.fullmatch(name):
        return f"invalid tool name {name!r}: use 1 to 128 letters, digits, '_', '-' or '.'"
    if name in BUILT_IN_TOOLS:
        return f"{name!r} is a built-in tool of every replica: choose another name"
    return None


async def mirror_tools(mcp: ReplicaServer) -> None:
    """Keep the server's tool list equal to the registry; announce every change.

    Entries that cannot be tools (a name refused by `register_tool`, written by an older
    replica or another client of the state) are skipped with a warning, so one bad entry
    never stops the others from being mirrored.
    """
    state = mcp.state
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
        await mcp.bus.publish(ToolsListChanged())

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


async def mirror_resources(mcp: ReplicaServer) -> None:
    """Serve registered resources (the SDK has no removal: they stay, read live)."""
    state = mcp.state
    served: set[str] = set()

    async def apply(entries: dict[str, Any], origin: str) -> None:
        for uri in entries.keys() - served:
            if is_absolute_uri(uri):
                mcp.add_resource(shared_resource(state, uri))
            else:
                log.warning("%s: not serving resource %r: invalid URI", state.replica.id, uri)
            served.add(uri)
        await mcp.bus.publish(ResourcesListChanged())

    await apply(await state.resources.entries(), state.replica.id)
    await state.resources.watch(apply)


class SessionTracker:
    """ASGI middleware: lease each MCP session this replica opens, release it on DELETE, and
    answer 421 with the owner's address for a session another live replica holds."""

    def __init__(self, app: Any, server: ReplicaServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        raw = dict(scope["headers"]).get(SESSION_HEADER)
        sid = raw.decode() if raw else None
        state = self.server.state
        leases = state.leases
        if sid is not None and sid not in leases.held:
            record = leases.get(sid)
            if record is not None and record.owner != state.replica.id:
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


async def report(state: SharedState, mcp_url: str, out: TextIO) -> None:
    """Print the ready line ({"id", "mcp", "mesh", "async": the event loop serving it}), then
    a status line ({"id", "peers"}) when the connected peers change, not on a timer: the
    client's output must not drown in it."""
    me = state.replica.id
    ready = {
        "id": me,
        "mcp": mcp_url,
        "mesh": state.mesh.url or None,
        "async": sniffio.current_async_library(),
    }
    print(json.dumps(ready), file=out, flush=True)
    shown = None
    while True:
        if (peers := sorted(state.mesh.peers)) != shown:
            print(json.dumps({"id": me, "peers": peers}), file=out, flush=True)
            shown = peers
        await anyio.sleep(0.1)


async def until_listening(host: str, port: int) -> None:
    """Return once a TCP connection to `host:port` succeeds (a server started in the
    background a moment ago, or not yet bound, is waited for)."""
    while True:
        try:
            probe = await anyio.connect_tcp(host, port)
        except OSError:
            await anyio.sleep(0.05)
            continue
        await probe.aclose()
        return


def read_secret(path: Path) -> bytes:
    """The shared secret in `path` (without its trailing newline); SystemExit if empty."""
    secret = path.read_bytes().rstrip(b"\r\n")
    if not secret:
        raise SystemExit(f"{path}: the secret file is empty")
    return secret


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every replica takes: its id, its mesh, the shared state's settings."""
    parser.add_argument("--id", required=True, help="this replica's id")
    parser.add_argument("--peer", action="append", default=[], help="a peer's ws:// URL")
    parser.add_argument("--member", action="append", default=[], help="quota members (ids)")
    parser.add_argument("--quota", type=int, default=100, help="requests per client per window")
    parser.add_argument("--window", type=float, default=60.0, help="rate-limit window, seconds")
    parser.add_argument("--lease-ttl", type=float, default=30.0, help="session lease, seconds")
    parser.add_argument(
        "--quota-wait",
        type=float,
        default=5.0,
        help="seconds a spend without rights waits for a grant from a peer before it is refused",
    )
    parser.add_argument("--db", type=Path, help="keep the replica in this SQLite file")
    parser.add_argument("--secret-file", type=Path, help="a file holding the peers' shared secret")


def finish_arguments(args: argparse.Namespace) -> argparse.Namespace:
    args.member = args.member or [args.id]
    return args
