"""Drive one `PeerSession` over one frame channel (anyio: under trio or asyncio).

Three tasks share the session, which is safe because tasks switch only at awaits: the
receive loop feeds frames in and applies deltas to the replica, the send loop writes whatever
the session has to say (eagerly: a push goes out as soon as the previous frame is written, so
deltas made meanwhile coalesce), and a watcher wakes the send loop when the replica grows.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable, Iterable, Mapping

import anyio
import anyio.lowlevel

from antientropy import (
    CloseKind,
    PeerReady,
    PeerSession,
    PresenceReceived,
    SessionClosed,
    SessionState,
)
from antientropy.duties import deliver_async
from antientropy.events import Event
from antientropy.relays import LinkBook
from antientropy.yprotocol import AwarenessEntry
from crdtstate.errors import ProtocolError
from crdtstate.replica import Replica

from .channel import ChannelClosed, FrameChannel
from .limits import Limits

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_POLICY_VIOLATION = 1008
FLUSH_TIMEOUT = 2.0


def close_code_for(kind: CloseKind | None) -> int:
    if kind is CloseKind.AUTH:
        return CLOSE_POLICY_VIOLATION
    if kind is CloseKind.PROTOCOL:
        return CLOSE_PROTOCOL_ERROR
    return CLOSE_NORMAL


class SessionDriver:
    """Runs a session until the connection or the session ends; `run` returns why it ended."""

    def __init__(
        self,
        replica: Replica,
        channel: FrameChannel,
        *,
        outbound: bool,
        secret: bytes | None = None,
        on_ready: Callable[[SessionDriver], bool] | None = None,
        on_progress: Callable[[], None] | None = None,
        on_presence: Callable[[str, dict[str, list[AwarenessEntry]]], None] | None = None,
        limits: Limits | None = None,
        ordered: bool = True,
        links: LinkBook | None = None,
    ) -> None:
        """`ordered=False` for links that may lose or reorder frames (the simulator's);
        `on_presence(peer, rooms)` takes the Yjs awareness the peer sends (else dropped);
        `links`: the mesh's open sessions, announced to the peer (relay avoidance)."""
        self.limits = limits or Limits()
        self.replica = replica
        self.channel = channel
        self.outbound = outbound
        self.session = PeerSession(
            replica,
            nonce=secrets.token_bytes(32),
            secret=secret,
            now=anyio.current_time(),
            retransmit_after=self.limits.retransmit_after,
            max_frame_bytes=min(self.limits.max_frame_bytes, self.limits.max_pending_bytes),
            ordered=ordered,  # a websocket neither loses nor reorders frames
            ack_delay=self.limits.ack_delay,
            max_pushes_in_flight=self.limits.max_pushes_in_flight,
            resume=replica.resume_points,  # a reconnect to a peer run seen before resumes
            links=links,
        )
        self.ended = anyio.Event()
        self.closed_by: SessionClosed | None = None
        self._on_ready = on_ready
        self._on_progress = on_progress
        self._on_presence = on_presence
        self._kick = anyio.Event()
        self._heard = anyio.Event()  # set by every frame from the peer (an ack frees a push)

    @property
    def peer(self) -> str | None:
        return self.session.peer

    def kick(self) -> None:
        self._kick.set()

    def share_presence(self, rooms: Mapping[str, Iterable[AwarenessEntry]]) -> None:
        """Send the peer Yjs awareness entries (by room) as soon as the link allows."""
        self.session.share_presence(rooms)
        self.kick()

    def close(self, reason: str) -> None:
        """End the session cleanly (a bye is sent); `run` then returns."""
        self.session.close(reason)
        self.kick()

    async def run(self) -> SessionClosed | None:
        try:
            async with anyio.create_task_group() as nursery:
                nursery.start_soon(self._send_loop, nursery.cancel_scope)
                nursery.start_soon(self._watch_replica)
                nursery.start_soon(self._enforce_handshake_timeout)
                await self._receive_loop()
                nursery.cancel_scope.cancel()
            await self._flush_and_close()
        finally:
            self.ended.set()
        return self.closed_by

    async def _receive_loop(self) -> None:
        while self.session.state is not SessionState.CLOSED:
            try:
                frame = await self.channel.receive()
            except ChannelClosed as exc:
                log.debug("connection to %s closed: %s", self.peer or "peer", exc)
                return
            if isinstance(frame, str):
                events: list[Event] = [
                    self.session.abort("text frames are not part of the protocol")
                ]
            else:
                received = self.session.receive_data(frame, anyio.current_time())
                events = await deliver_async(self.session, received, self.replica.apply_remote)
            for event in events:
                self._handle(event)
            if self._on_progress is not None:
                self._on_progress()
            self.kick()
            self._heard.set()

    def _handle(self, event: Event) -> None:
        """What this driver does beyond the shared duties (`antientropy.duties`)."""
        if isinstance(event, PeerReady):
            log.info("%s: session with %s open", self.replica.id, event.peer)
            if self._on_ready is not None and not self._on_ready(self):
                self.session.close("duplicate connection")
        elif isinstance(event, PresenceReceived):
            if self._on_presence is not None and self.session.peer is not None:
                try:
                    self._on_presence(self.session.peer, event.rooms)
                except ProtocolError as exc:
                    self.closed_by = self.session.abort(exc.reason)
        elif isinstance(event, SessionClosed):
            self.closed_by = event

    async def _send_loop(self, scope: anyio.CancelScope) -> None:
        while True:
            self._kick = anyio.Event()
            if self.session.answer_pending:
                # A digest answer is computed from the state, which on a durable replica may
                # hold updates still being committed: no peer may see those before they are.
                await self.replica.wait_durable()
            frames = self.session.data_to_send(anyio.current_time())
            try:
                for frame in frames:
                    with anyio.move_on_after(self.limits.send_timeout) as send_scope:
                        await self.channel.send(frame)
                    if send_scope.cancelled_caught:
                        self.closed_by = self.session.abort("peer stalled: a frame was not written")
                        scope.cancel()
                        return
            except ChannelClosed:
                scope.cancel()
                return
            if self.session.state is SessionState.CLOSED:
                if self.closed_by is None and self.session.stats.last_error:
                    self.closed_by = SessionClosed(
                        self.session.stats.last_error, CloseKind.PROTOCOL
                    )
                scope.cancel()  # our bye is out: stop waiting for the peer
                return
            if self.session.wants_to_send():
                continue
            deadline = self.session.next_deadline()
            with anyio.CancelScope(deadline=math.inf if deadline is None else deadline):
                await self._kick.wait()
            # Let the tasks woken with us run first: under asyncio's FIFO scheduling the send
            # loop would otherwise run right after every update and ship one frame each (trio
            # batches runnable tasks, so there deltas coalesce anyway).
            await anyio.lowlevel.checkpoint()

    async def _enforce_handshake_timeout(self) -> None:
        await anyio.sleep(self.limits.handshake_timeout)
        if self.session.state in (SessionState.AWAIT_HELLO, SessionState.AWAIT_AUTH):
            self.closed_by = self.session.abort("handshake timed out")
            self.kick()

    async def _watch_replica(self) -> None:
        """Kick the send loop when the replica grows, but not while the session may not push
        (its pushes in flight are at the cap): the ack that frees it kicks the send loop
        anyway, so a busy replica costs no wake-up per update."""
        seen = self.replica.buffer.sequence
        cap = self.limits.max_pushes_in_flight
        while not self.replica.closed:
            seen = await self.replica.wait_beyond(seen)
            self.kick()
            while self.session.window.full(cap):
                self._heard = anyio.Event()
                await self._heard.wait()

    async def _flush_and_close(self) -> None:
        """Send what the session still has (a bye, acks), then close with a fitting code."""
        with anyio.move_on_after(FLUSH_TIMEOUT) as scope:
            scope.shield = True
            try:
                for frame in self.session.data_to_send(anyio.current_time()):
                    await self.channel.send(frame)
            except ChannelClosed:
                pass
            kind = self.closed_by.kind if self.closed_by else None
            reason = self.session.close_reason or "connection closed"
            await self.channel.close(close_code_for(kind), reason)
