"""The y-websocket endpoint: Yjs clients join a replica's documents, one room per document.

`ws://host:port<prefix><room>?token=...` (y-websocket builds `serverUrl + "/" + room`, so a
client uses `serverUrl = ws://host:port/yjs` with the default prefix). The mesh routes such
paths here (`open_mesh(routes=rooms.routes())`); the room is `replica.container(room,
Document)`, so what a Yjs client writes is gossiped to peers like any local update (origin
`yjs:<n>`), and what peers or local updaters write reaches every client of the room.

Per connection, as y-websocket's server does: we send sync step 1 and the room's awareness;
we answer step 1 with step 2, apply step 2 and updates, and relay awareness to the room.

Bounds: the mesh's `max_peers` counts these connections; frames are capped by
`max_frame_bytes`; a client must speak within `handshake_timeout`; a client whose unsent
updates exceed `max_pending_bytes`, or that cannot take a frame within `send_timeout`, is
closed (1013) and resyncs by step 1/2 when it reconnects.

Awareness (cursors, presence) is shared across the mesh, never stored: the rooms and the mesh
of one replica share its hub (`transport.presence.hub_for`), so a client sees the clients of
every node, relayed over the peers' sessions (`transport.presence`). A client
that disconnects is removed everywhere at once; the clients of a node that went away vanish
from the others 30 s after their last renewal (y-protocols clients renew every 15 s), as a
y-websocket server times out a silent client.
"""

from __future__ import annotations

import hmac
import itertools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import anyio
from websockets.exceptions import ConnectionClosed

from antientropy import yprotocol as yp
from crdtstate import Document, Replica
from crdtstate.containers.replicated import ReplicatedContainer
from crdtstate.errors import CrdtStateError, DecodeError, ProtocolError

from .limits import Limits
from .presence import PresenceHub, hub_for
from .websocket import ServerConnection, close_connection

log = logging.getLogger(__name__)

CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN_LATER = 1013
Handler = Callable[[ServerConnection], Awaitable[None]]


class Room:
    """The connections to one document (its awareness is in the rooms' `PresenceHub`)."""

    def __init__(self) -> None:
        self.clients: set[YjsClient] = set()

    def broadcast(self, frame: bytes, *, skip: YjsClient | None = None) -> None:
        for client in list(self.clients):
            if client is not skip:
                client.push(frame)


class YjsRooms:
    """Serves Yjs clients for `replica`; `token` (required) authenticates them. `presence`
    (default: a hub of its own) holds the rooms' awareness; give the same one to the mesh."""

    def __init__(
        self,
        replica: Replica,
        *,
        token: str,
        prefix: str = "/yjs/",
        token_param: str = "token",
        limits: Limits | None = None,
        presence: PresenceHub | None = None,
    ) -> None:
        if not token:
            raise ValueError("the Yjs endpoint needs a non-empty token")
        self.replica = replica
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.limits = limits or Limits()
        self._token = token.encode()
        self._token_param = token_param
        self._rooms: dict[str, Room] = {}
        self._ids = itertools.count(1)
        self.presence = presence or hub_for(replica)
        self.presence.listen(self._deliver)

    def routes(self) -> dict[str, Handler]:
        return {self.prefix: self.serve}

    def awareness(self, room: str) -> dict[int, dict]:
        """The awareness states in `room` (client id -> state), here and across the mesh."""
        return self.presence.table.states(room)

    def _deliver(self, room: str, entries: list[yp.AwarenessEntry]) -> None:
        found = self._rooms.get(room)
        if found is not None:
            found.broadcast(yp.awareness_frame(entries))

    def _authorized(self, query: str) -> bool:
        given = parse_qs(query).get(self._token_param, [""])[0].encode()
        return hmac.compare_digest(given, self._token)

    async def serve(self, connection: ServerConnection) -> None:
        target = urlsplit(connection.request.path if connection.request else "/")
        name = unquote(target.path[len(self.prefix) :])
        if not self._authorized(target.query):
            log.warning("%s: refusing a Yjs client: bad token", self.replica.id)
            await close_connection(connection, CLOSE_POLICY_VIOLATION, "unauthorized")
            return
        try:
            document = self.replica.container(name, Document)
        except CrdtStateError as exc:
            await close_connection(connection, CLOSE_POLICY_VIOLATION, str(exc)[:120])
            return
        room = self._rooms.setdefault(name, Room())
        client = YjsClient(self, name, document, connection, f"yjs:{next(self._ids)}")
        room.clients.add(client)
        try:
            await client.run()
        finally:
            room.clients.discard(client)
            self.presence.remove(name, client.awareness_ids)
            if not room.clients:
                self._rooms.pop(name, None)


class YjsClient:
    """One Yjs client's connection to one room."""

    def __init__(
        self,
        rooms: YjsRooms,
        name: str,
        container: ReplicatedContainer[Document],
        connection: ServerConnection,
        origin: str,
    ) -> None:
        self.rooms, self.name = rooms, name
        self.container = container
        self.connection = connection
        self.origin = origin
        self.awareness_ids: set[int] = set()
        self._queue: list[bytes] = []
        self._queued_bytes = 0
        self._wake = anyio.Event()
        self._overflow = False

    def push(self, frame: bytes) -> None:
        self._queue.append(frame)
        self._queued_bytes += len(frame)
        if self._queued_bytes > self.rooms.limits.max_pending_bytes:
            self._overflow = True
        self._wake.set()

    async def run(self) -> None:
        state: Document = self.container.state
        stop_listening = state.add_listener(lambda update: self.push(yp.sync_update(update)))
        try:
            self.push(yp.sync_step1(state.encoded_state_vector()))
            present = self.rooms.presence.table.entries(self.name)
            if present:
                self.push(yp.awareness_frame(present))
            async with anyio.create_task_group() as nursery:
                nursery.start_soon(self._send_loop, nursery.cancel_scope)
                error = await self._receive_loop()
                nursery.cancel_scope.cancel()
        finally:
            stop_listening()
        if error is not None:
            log.warning("%s: Yjs client %s: %s", self.rooms.replica.id, self.origin, error)
            await close_connection(self.connection, 1002, error[:120])

    async def _receive_loop(self) -> str | None:
        """Feed frames in until the client leaves (None) or breaks the protocol (why)."""
        limits = self.rooms.limits
        first = True
        while True:
            try:
                with anyio.fail_after(limits.handshake_timeout) if first else _forever():
                    frame = await self.connection.recv()
                first = False
                await self._handle(yp.decode_frame(frame))
            except TimeoutError:
                return "no sync step 1 within the handshake timeout"
            except ConnectionClosed:
                return None
            except ProtocolError as exc:
                return exc.reason

    async def _handle(self, message: yp.Message) -> None:
        if isinstance(message, yp.SyncStep1):
            state: Document = self.container.state
            self.push(yp.sync_step2(state.update_since(message.state_vector)))
        elif isinstance(message, yp.SyncStep2 | yp.SyncUpdate):
            try:
                delta = Document.from_wire(message.update)
            except DecodeError as exc:
                raise ProtocolError(f"malformed update: {exc}") from exc
            if not delta.is_bottom():
                try:
                    await self.rooms.replica.apply_remote({self.name: delta}, origin=self.origin)
                except DecodeError as exc:
                    raise ProtocolError(f"update refused: {exc}") from exc
        elif isinstance(message, yp.AwarenessUpdate):
            self.awareness_ids.update(e.client for e in message.entries if e.state is not None)
            self.rooms.presence.publish(self.name, message.entries)  # to the room and peers
        elif isinstance(message, yp.QueryAwareness):
            self.push(yp.awareness_frame(self.rooms.presence.table.entries(self.name)))

    async def _send_loop(self, scope: anyio.CancelScope) -> None:
        limits = self.rooms.limits
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            if self._overflow:
                log.warning("%s: Yjs client %s is too slow", self.rooms.replica.id, self.origin)
                await close_connection(self.connection, CLOSE_TRY_AGAIN_LATER, "too far behind")
                scope.cancel()
                return
            frames, self._queue, self._queued_bytes = self._queue, [], 0
            try:
                for frame in frames:
                    with anyio.fail_after(limits.send_timeout):
                        await self.connection.send(frame)
            except (ConnectionClosed, TimeoutError):
                scope.cancel()
                return


def _forever() -> anyio.CancelScope:
    return anyio.CancelScope()
