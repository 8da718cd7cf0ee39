"""A replica's place in a mesh of peers over websockets (its trio or asyncio implementation,
whichever runs): listen, dial, keep one session per peer, and release buffered deltas every
connected peer has acknowledged."""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.abc
from websockets.exceptions import InvalidURI

from antientropy import collect_garbage
from crdtstate.errors import InvalidArgumentError, ListenError, PeersMissingError
from crdtstate.replica import Replica

from .addresses import parse_listen, peer_urls
from .channel import WebSocketChannel
from .driver import SessionDriver
from .limits import Backoff, Limits
from .presence import PresenceHub, hub_for
from .websocket import DIAL_ERRORS, ServerConnection, bind, close_connection, connect

log = logging.getLogger(__name__)

CLOSE_TRY_AGAIN_LATER = 1013
Route = Callable[[ServerConnection], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """One peer's session as `Mesh.stats()` reports it."""

    peer: str
    connected: bool
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


class Mesh:
    """The running mesh of one replica; created by `open_mesh`."""

    def __init__(
        self,
        replica: Replica,
        nursery: anyio.abc.TaskGroup,
        *,
        secret: bytes | None,
        limits: Limits,
        backoff: Backoff,
        client_ssl: ssl.SSLContext | None,
        routes: Mapping[str, Route] | None = None,
        presence: PresenceHub | None = None,
    ) -> None:
        self.replica = replica
        self.presence = presence or hub_for(replica)  # Yjs awareness, relayed between peers
        self.routes = dict(routes or {})  # path prefix -> handler (e.g. the Yjs endpoint)
        self.url = ""
        self.limits = limits
        self._nursery = nursery
        self._secret = secret
        self._backoff = backoff
        self._client_ssl = client_ssl
        self._sessions: dict[str, SessionDriver] = {}
        self._connections = 0  # open websocket connections, in handshake or in session
        self._history: dict[str, PeerStatus] = {}
        self._dial_errors: dict[str, str] = {}  # peer URL -> why the last dial failed
        self._changed = anyio.Event()

    # -- what users read --------------------------------------------------------------------

    @property
    def peers(self) -> set[str]:
        """Ids of the peers with an open session."""
        return set(self._sessions)

    async def wait_for_peers(
        self, peers: Iterable[str] | int, *, timeout: float | None = None
    ) -> None:
        """Wait until these peer ids (or this many peers) are connected.

        After `timeout` seconds raise `PeersMissingError` naming the peers still missing and
        why the last dials failed (None: wait as long as it takes).
        """
        if isinstance(peers, str | bytes):
            raise InvalidArgumentError(f"wait_for_peers({peers!r}): pass a set of peer ids")
        wanted: int | frozenset[str] = peers if isinstance(peers, int) else frozenset(peers)
        with anyio.move_on_after(math.inf if timeout is None else timeout):
            while True:
                if isinstance(wanted, int):
                    if len(self._sessions) >= wanted:
                        return
                elif wanted <= self._sessions.keys():
                    return
                await self._changed.wait()
        raise self._missing(wanted, timeout)

    def _missing(self, wanted: int | frozenset[str], timeout: float | None) -> PeersMissingError:
        connected = ", ".join(sorted(self._sessions)) or "none"
        if isinstance(wanted, int):
            what = f"{len(self._sessions)} of {wanted} peers connected"
            missing: int | frozenset[str] = wanted - len(self._sessions)
        else:
            missing = wanted - self._sessions.keys()
            what = "no session with " + ", ".join(repr(p) for p in sorted(missing))
        failures = "; ".join(f"{url}: {why}" for url, why in sorted(self._dial_errors.items()))
        message = f"{self.replica.id}: {what} after {timeout:g} s (connected: {connected})"
        return PeersMissingError(
            message + (f"; dials failing: {failures}" if failures else ""), missing
        )

    @property
    def connections(self) -> int:
        """Open websocket connections, including ones still in their handshake."""
        return self._connections

    def stats(self) -> list[PeerStatus]:
        """Every peer seen since the mesh opened: live sessions, then the last state of others."""
        live = {peer: self._status(driver) for peer, driver in self._sessions.items()}
        gone = {p: s for p, s in self._history.items() if p not in live}
        return [v for _, v in sorted({**gone, **live}.items())]

    def _status(self, driver: SessionDriver, *, connected: bool = True) -> PeerStatus:
        s = driver.session
        return PeerStatus(
            peer=driver.peer or "?",
            connected=connected,
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

    # -- sessions -------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

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
        self.presence.add_peer(peer, driver.share_presence)
        self._notify()
        return True

    def _release(self, driver: SessionDriver) -> None:
        if driver.peer is not None and self._sessions.get(driver.peer) is driver:
            del self._sessions[driver.peer]
            self.presence.remove_peer(driver.peer)
            self._history[driver.peer] = self._status(driver, connected=False)
            self._notify()
        self._collect_garbage()

    def _collect_garbage(self) -> None:
        """Drop buffered groups every open session has acknowledged, but those a peer that
        was connected may resume from when it reconnects (`Replica.resume_points`)."""
        sessions = (d.session for d in self._sessions.values())
        collect_garbage(self.replica.buffer, sessions, self.replica.resume_points)

    async def _run_driver(self, channel: WebSocketChannel, *, outbound: bool) -> SessionDriver:
        driver = SessionDriver(
            self.replica,
            channel,
            outbound=outbound,
            secret=self._secret,
            on_ready=self._admit,
            on_progress=self._collect_garbage,
            on_presence=self.presence.receive,
            limits=self.limits,
        )
        self._connections += 1
        try:
            closed = await driver.run()
        finally:
            self._connections -= 1
            self._release(driver)
        if closed is not None and closed.kind.value in ("protocol", "auth"):
            log.warning(
                "%s: session with %s failed: %s", self.replica.id, driver.peer, closed.reason
            )
        return driver

    async def _serve_one(self, connection: ServerConnection) -> None:
        if self._connections >= self.limits.max_peers:
            log.warning(
                "%s: refusing a connection: %d peers is the limit",
                self.replica.id,
                self.limits.max_peers,
            )
            await close_connection(connection, CLOSE_TRY_AGAIN_LATER, "too many peers")
            return
        route = self._route(connection)
        if route is not None:
            self._connections += 1
            try:
                await route(connection)
            finally:
                self._connections -= 1
            return
        await self._run_driver(WebSocketChannel(connection), outbound=False)

    def _route(self, connection: ServerConnection) -> Route | None:
        """The handler of a request path under one of `routes` (peers dial the root path)."""
        path = connection.request.path.split("?", 1)[0] if connection.request else "/"
        for prefix, handler in self.routes.items():
            if path.startswith(prefix) and len(path) > len(prefix):
                return handler
        return None

    async def _dial_forever(self, url: str) -> None:
        """Dial `url` until the mesh closes, backing off; warn once per new failure reason."""
        attempt = 0
        while True:
            try:
                async with connect(
                    url,
                    ssl=self._client_ssl if url.startswith("wss://") else None,
                    max_size=self.limits.max_frame_bytes,
                    compression=None,
                    open_timeout=self.limits.handshake_timeout,
                    ping_interval=self.limits.keepalive_interval,
                    ping_timeout=self.limits.keepalive_timeout,
                ) as connection:
                    attempt = 0
                    if self._dial_errors.pop(url, None) is not None:
                        log.info("%s: peer %s is reachable again", self.replica.id, url)
                    driver = await self._run_driver(WebSocketChannel(connection), outbound=True)
                    kept = self._sessions.get(driver.peer) if driver.peer else None
                if kept is not None:
                    await kept.ended.wait()  # the peer's own connection to us is the one kept
            except DIAL_ERRORS as exc:
                self._dial_failed(url, exc)
            except InvalidURI:
                log.error("%s: peer address %s is not a websocket URL", self.replica.id, url)
                return
            await anyio.sleep(self._backoff.delay(attempt))
            attempt += 1

    def _dial_failed(self, url: str, exc: BaseException) -> None:
        """A warning the first time a peer fails for a reason, debug while it keeps failing."""
        reason = str(exc) or type(exc).__name__
        attempts = getattr(exc.__cause__, "exceptions", ())  # trio: why each address failed
        if attempts:
            reason = "; ".join(sorted({getattr(e, "strerror", None) or str(e) for e in attempts}))
        level = logging.DEBUG if self._dial_errors.get(url) == reason else logging.WARNING
        self._dial_errors[url] = reason
        log.log(level, "%s: cannot reach peer %s: %s (retrying)", self.replica.id, url, reason)


@asynccontextmanager
async def open_mesh(
    replica: Replica,
    listen: str | None = "127.0.0.1:0",
    peers: Iterable[str] = (),
    secret: str | bytes | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
    client_ssl_context: ssl.SSLContext | None = None,
    limits: Limits | None = None,
    backoff: Backoff | None = None,
    routes: Mapping[str, Route] | None = None,
    presence: PresenceHub | None = None,
) -> AsyncIterator[Mesh]:
    """Listen on `listen` (None: dial only) and keep sessions with `peers` until the block exits.

    `mesh.url` is the URL peers dial (with the real port when 0 was asked). `secret` turns on
    mutual HMAC authentication; `ssl_context` (server side) serves wss://, and
    `client_ssl_context` is used to dial wss:// peers (default: the system's trust store).
    `routes` maps request-path prefixes to other websocket handlers on the same server
    (`transport.yjs.YjsRooms.routes()`); peers use the root path. `presence` is the hub
    whose Yjs awareness is shared with peers: by default the replica's own (`hub_for`), the
    one its `YjsRooms` use, so their clients' awareness reaches the peers without wiring.
    """
    key = secret.encode() if isinstance(secret, str) else secret
    limits = limits or Limits()
    peers = peer_urls(peers)
    address = parse_listen(listen) if listen is not None else None
    if client_ssl_context is None and any(p.startswith("wss://") for p in peers):
        client_ssl_context = ssl.create_default_context()
    listening = None
    if address is not None:  # bound before the nursery, so a taken port is a plain error
        try:
            listening = await bind(address[0], address[1])
        except OSError as exc:
            raise ListenError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    async with anyio.create_task_group() as nursery:
        mesh = Mesh(
            replica,
            nursery,
            secret=key,
            limits=limits,
            backoff=backoff or Backoff(),
            client_ssl=client_ssl_context,
            routes=routes,
            presence=presence,
        )
        nursery.start_soon(mesh.presence.run)
        if listening is not None:
            await nursery.start(
                lambda task_status: listening.serve(
                    mesh._serve_one,
                    task_status=task_status,
                    ssl=ssl_context,
                    max_size=limits.max_frame_bytes,
                    compression=None,
                    open_timeout=limits.handshake_timeout,
                    ping_interval=limits.keepalive_interval,
                    ping_timeout=limits.keepalive_timeout,
                )
            )
            host, port = listening.address
            shown = f"[{host}]" if ":" in host else host
            scheme = "wss" if ssl_context is not None else "ws"
            mesh.url = f"{scheme}://{shown}:{port}"
        for peer in peers:
            nursery.start_soon(mesh._dial_forever, peer)
        try:
            yield mesh
        finally:
            for driver in list(mesh._sessions.values()):
                driver.close("replica shutting down")
            with anyio.move_on_after(2) as scope:
                scope.shield = True
                for driver in list(mesh._sessions.values()):
                    await driver.ended.wait()
            nursery.cancel_scope.cancel()
