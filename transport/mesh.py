"""A replica's place in a mesh of peers over `websockets.trio`: listen, dial, keep one session
per peer, and release buffered deltas every connected peer has acknowledged."""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio
from websockets.exceptions import InvalidHandshake, InvalidURI
from websockets.trio.client import connect
from websockets.trio.server import ServerConnection, serve

from antientropy import collect_garbage
from crdtstate.replica import Replica

from .channel import WebSocketChannel
from .driver import SessionDriver

log = logging.getLogger(__name__)

DEFAULT_MAX_FRAME = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter between reconnect attempts."""

    initial: float = 0.05
    maximum: float = 5.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.maximum, self.initial * self.factor**attempt))


@dataclass(frozen=True, slots=True)
class PeerStatus:
    peer: str
    outbound: bool
    acknowledged: int
    sent: int
    sequence: int
    frames_in: int
    frames_out: int
    bytes_in: int
    bytes_out: int
    resyncs: int
    last_error: str | None


def parse_listen(listen: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address {listen!r} is not host:port")
    return host.strip("[]") or "127.0.0.1", int(port)


def peer_url(peer: str) -> str:
    return peer if "://" in peer else f"ws://{peer}"


class Mesh:
    """The running mesh of one replica; created by `open_mesh`."""

    def __init__(
        self,
        replica: Replica,
        nursery: trio.Nursery,
        *,
        secret: bytes | None,
        max_frame: int,
        backoff: Backoff,
    ) -> None:
        self.replica = replica
        self.url = ""
        self._nursery = nursery
        self._secret = secret
        self._max_frame = max_frame
        self._backoff = backoff
        self._sessions: dict[str, SessionDriver] = {}
        self._changed = trio.Event()

    # -- what users read --------------------------------------------------------------------

    @property
    def peers(self) -> set[str]:
        """Ids of the peers with an open session."""
        return set(self._sessions)

    async def wait_for_peers(self, peers: Iterable[str] | int) -> None:
        """Wait until these peer ids (or this many peers) are connected."""
        while True:
            if isinstance(peers, int):
                if len(self._sessions) >= peers:
                    return
            elif set(peers) <= set(self._sessions):
                return
            await self._changed.wait()

    def stats(self) -> list[PeerStatus]:
        status = []
        for peer, driver in sorted(self._sessions.items()):
            s = driver.session
            status.append(
                PeerStatus(
                    peer=peer,
                    outbound=driver.outbound,
                    acknowledged=s.acked,
                    sent=s.sent,
                    sequence=self.replica.buffer.sequence,
                    frames_in=s.stats.frames_in,
                    frames_out=s.stats.frames_out,
                    bytes_in=s.stats.bytes_in,
                    bytes_out=s.stats.bytes_out,
                    resyncs=s.stats.resyncs,
                    last_error=s.stats.last_error,
                )
            )
        return status

    # -- sessions -------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _admit(self, driver: SessionDriver) -> bool:
        """Keep one session per peer: the one dialed by the smaller replica id."""
        peer = driver.peer
        assert peer is not None
        current = self._sessions.get(peer)
        if current is not None and current is not driver:
            dialer_of = lambda d: self.replica.id if d.outbound else peer  # noqa: E731
            preferred = min(self.replica.id, peer)
            if dialer_of(current) == preferred or dialer_of(driver) != preferred:
                log.info("%s: dropping duplicate connection to %s", self.replica.id, peer)
                return False
            current.close("duplicate connection")
        self._sessions[peer] = driver
        self._notify()
        return True

    def _release(self, driver: SessionDriver) -> None:
        if driver.peer is not None and self._sessions.get(driver.peer) is driver:
            del self._sessions[driver.peer]
            self._notify()
        self._collect_garbage()

    def _collect_garbage(self) -> None:
        """Drop buffered groups every open session has acknowledged."""
        collect_garbage(self.replica.buffer, (d.session for d in self._sessions.values()))

    async def _run_driver(self, channel: WebSocketChannel, *, outbound: bool) -> SessionDriver:
        driver = SessionDriver(
            self.replica,
            channel,
            outbound=outbound,
            secret=self._secret,
            on_ready=self._admit,
            on_progress=self._collect_garbage,
        )
        try:
            closed = await driver.run()
        finally:
            self._release(driver)
        if closed is not None and closed.kind.value in ("protocol", "auth"):
            log.warning(
                "%s: session with %s failed: %s", self.replica.id, driver.peer, closed.reason
            )
        return driver

    async def _serve_one(self, connection: ServerConnection) -> None:
        await self._run_driver(WebSocketChannel(connection), outbound=False)

    async def _dial_forever(self, url: str) -> None:
        attempt = 0
        while True:
            try:
                async with connect(
                    url, max_size=self._max_frame, compression=None, open_timeout=10
                ) as connection:
                    attempt = 0
                    driver = await self._run_driver(WebSocketChannel(connection), outbound=True)
                    kept = self._sessions.get(driver.peer) if driver.peer else None
                if kept is not None:
                    await kept.ended.wait()  # the peer's own connection to us is the one kept
            except (OSError, InvalidHandshake, TimeoutError, trio.BrokenResourceError) as exc:
                log.debug("%s: dialing %s failed: %s", self.replica.id, url, exc)
            except InvalidURI:
                log.error("%s: peer address %s is not a websocket URL", self.replica.id, url)
                return
            await trio.sleep(self._backoff.delay(attempt))
            attempt += 1


@asynccontextmanager
async def open_mesh(
    replica: Replica,
    listen: str | None = "127.0.0.1:0",
    peers: Iterable[str] = (),
    secret: str | bytes | None = None,
    *,
    max_frame: int = DEFAULT_MAX_FRAME,
    backoff: Backoff | None = None,
) -> AsyncIterator[Mesh]:
    """Listen on `listen` (None: dial only) and keep sessions with `peers` until the block exits.

    `mesh.url` is the URL peers dial (with the real port when 0 was asked).
    """
    key = secret.encode() if isinstance(secret, str) else secret
    async with trio.open_nursery() as nursery:
        mesh = Mesh(replica, nursery, secret=key, max_frame=max_frame, backoff=backoff or Backoff())
        if listen is not None:
            host, port = parse_listen(listen)
            server = await nursery.start(
                functools.partial(
                    serve, mesh._serve_one, port, host=host, max_size=max_frame, compression=None
                )
            )
            sockname = server.listeners[0].socket.getsockname()
            shown = f"[{sockname[0]}]" if ":" in sockname[0] else sockname[0]
            mesh.url = f"ws://{shown}:{sockname[1]}"
        for peer in peers:
            nursery.start_soon(mesh._dial_forever, peer_url(peer))
        try:
            yield mesh
        finally:
            for driver in list(mesh._sessions.values()):
                driver.close("replica shutting down")
            with trio.move_on_after(2) as scope:
                scope.shield = True
                for driver in list(mesh._sessions.values()):
                    await driver.ended.wait()
            nursery.cancel_scope.cancel()
