"""A TCP proxy on one link between two replica processes, which the fault run cuts and restores.

The dialing replica connects to the proxy; the proxy connects on to the listening replica's
current port (`target`, changed when that process restarts on a new port) and copies bytes
both ways. `cut()` closes every connection through it and refuses new ones until `restore()`;
`stall()` stops copying without closing anything (a black hole: the bytes wait in the proxy)
until `restore()` lets them through late.
"""

from __future__ import annotations

import logging

import trio

log = logging.getLogger(__name__)
CHUNK = 65536


class LinkProxy:
    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self.target: int | None = None
        self.cut_connections = 0  # connections closed by cuts, over the run
        self.connections = 0  # connections forwarded, over the run
        self._cut = False
        self._flowing = trio.Event()
        self._flowing.set()
        self._open: set[trio.CancelScope] = set()

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def state(self) -> str:
        """ "up", "cut" or "stalled", and the connections open through it."""
        state = "cut" if self._cut else "stalled" if not self._flowing.is_set() else "up"
        return f"{state}({len(self._open)})"

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._forward, listeners)

    def cut(self) -> int:
        """Close every open connection and refuse new ones; returns how many were closed."""
        self._cut = True
        closed = len(self._open)
        self.cut_connections += closed
        for scope in list(self._open):
            scope.cancel()
        return closed

    def stall(self) -> None:
        if self._flowing.is_set():
            self._flowing = trio.Event()

    def restore(self) -> None:
        self._cut = False
        self._flowing.set()

    async def _forward(self, client: trio.SocketStream) -> None:
        upstream: trio.SocketStream | None = None
        try:
            if self._cut or self.target is None:
                return
            try:
                upstream = await trio.open_tcp_stream("127.0.0.1", self.target)
            except OSError:
                return  # the replica behind is down: the dialer backs off and retries
            self.connections += 1
            with trio.CancelScope() as scope:
                self._open.add(scope)
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._pump, client, upstream, nursery.cancel_scope)
                        nursery.start_soon(self._pump, upstream, client, nursery.cancel_scope)
                finally:
                    self._open.discard(scope)
        finally:
            await trio.aclose_forcefully(client)
            if upstream is not None:
                await trio.aclose_forcefully(upstream)

    async def _pump(
        self, source: trio.SocketStream, sink: trio.SocketStream, both: trio.CancelScope
    ) -> None:
        """Copy one direction; when it ends, end the other too (a replica closed or died)."""
        try:
            while data := await source.receive_some(CHUNK):
                while not self._flowing.is_set():
                    await self._flowing.wait()
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.debug("%s: %s", self.name, exc)
        finally:
            both.cancel()
