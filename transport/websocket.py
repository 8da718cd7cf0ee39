"""websockets' own implementation for the running event loop: `websockets.trio` under trio,
`websockets.asyncio` under asyncio (anyio's backend, as `sniffio` reports it).

The rest of `transport` is written against anyio; this is the one module that knows which
websockets implementation it drives. Both share the Sans-I/O `websockets.protocol` and the
same connection API (`send`, `recv`, `request`), except closing (`aclose` under trio,
`close` under asyncio), how a server is started and how a refused dial fails.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

import anyio
import anyio.abc
import sniffio
import trio
import websockets.asyncio.client
import websockets.asyncio.connection
import websockets.asyncio.server
import websockets.trio.client
import websockets.trio.connection
import websockets.trio.server
from anyio.abc import SocketAttribute
from websockets.exceptions import InvalidHandshake

Connection: TypeAlias = (
    websockets.trio.connection.Connection | websockets.asyncio.connection.Connection
)
ServerConnection: TypeAlias = (
    websockets.trio.server.ServerConnection | websockets.asyncio.server.ServerConnection
)
Handler = Callable[[Any], Awaitable[None]]

HANDLER_GRACE = 5.0

#: What a failed dial raises (besides `InvalidURI`), under either implementation.
DIAL_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    InvalidHandshake,
    TimeoutError,
    ssl.SSLError,
    anyio.BrokenResourceError,
    trio.BrokenResourceError,
)


def running_backend() -> str:
    """ "trio" or "asyncio": the event loop this task runs on."""
    return sniffio.current_async_library()


def connect(url: str, **options: Any) -> AbstractAsyncContextManager[Any]:
    """`websockets.<backend>.client.connect(url, **options)` for the running backend."""
    if running_backend() == "trio":
        return websockets.trio.client.connect(url, **options)
    return websockets.asyncio.client.connect(url, **options)


def reading_paused(connection: Any) -> bool:
    """Whether websockets stopped reading the connection (more than `max_queue` unread)."""
    return connection.recv_messages.paused


async def close_connection(connection: Any, code: int, reason: str) -> None:
    """Close with `code` and `reason`, also when reading was paused by a full `max_queue`:
    websockets never resumes reading a closed connection, so the peer's close frame would
    never be read (trio: the reader then waits forever; asyncio: the close waits out its
    timeout). Unread frames no longer matter: read on, without a bound, to reach it."""
    messages = connection.recv_messages
    if messages.paused:
        messages.high = None
        messages.paused = False
        messages.resume()
    if isinstance(connection, websockets.asyncio.connection.Connection):
        await connection.close(code, reason)
    else:
        await connection.aclose(code, reason)


async def bind(host: str, port: int) -> Listening:
    """Bind `host:port` (every address it resolves to); fails with `OSError`, before anything
    is served, so a taken port is a plain error."""
    if running_backend() == "trio":
        listeners = await trio.open_tcp_listeners(port, host=host)
        return Listening([listener.socket for listener in listeners], trio_listeners=listeners)
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    parts = getattr(listener, "listeners", [listener])  # a MultiListener for several addresses
    return Listening([part.extra(SocketAttribute.raw_socket) for part in parts])


class Listening:
    """Bound sockets, not yet served: `address` is known, `serve` runs the server."""

    def __init__(self, sockets: list[Any], *, trio_listeners: list[Any] | None = None) -> None:
        self._sockets = sockets
        self._trio_listeners = trio_listeners

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) of the first socket: with port 0, the port the system chose."""
        host, port = self._sockets[0].getsockname()[:2]
        return host, port

    async def serve(
        self,
        handler: Handler,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
        **options: Any,
    ) -> None:
        """Serve websocket connections with `handler` until cancelled (start it in a task
        group: `await tasks.start(listening.serve, handler)`); `options` go to websockets."""
        if self._trio_listeners is not None:
            await websockets.trio.server.serve(
                handler, listeners=self._trio_listeners, task_status=task_status, **options
            )
            return
        servers = [
            await websockets.asyncio.server.serve(handler, sock=sock, **options)
            for sock in self._sockets
        ]
        try:
            task_status.started()
            await anyio.sleep_forever()
        finally:
            await _close_servers(servers)


async def _close_servers(servers: list[websockets.asyncio.server.Server]) -> None:
    """Stop listening, close every connection (1001) and cancel the handlers, which run as
    asyncio tasks of the server, as trio cancels a nursery's: none outlives `serve`."""
    with anyio.CancelScope(shield=True):
        for server in servers:
            server.close()
            for task in server.handler_tasks:
                task.cancel()
        with anyio.move_on_after(HANDLER_GRACE):
            for server in servers:
                await server.wait_closed()
