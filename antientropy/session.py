"""One peer's anti-entropy session as a Sans-I/O state machine (h11 / websockets style).

Bytes in through `receive_data`, events out (a peer identified, deltas to apply, the session
closed), frames out through `data_to_send`, the current time passed in. No I/O, no sleeping:
the websocket driver and the simulator run the very same object.

Phases (DESIGN §4, `SessionPhase`): the handshake (`handshake.py`); then each side sends its
per-object `Digest` and answers the peer's with a `Delta` of what the peer lacks, stamped with
its current sequence, or, reconnecting to a peer run it remembers, claims where they were
and the peer resumes from there (`digests.py`); from then on, groups the buffer gains are
pushed eagerly, joined, leaving out groups the peer is known to hold (BP, `backprop.py`), and
the peer acknowledges the contiguous prefix it holds. A peer the buffer can no longer serve
is resynchronised by digests.
Frames may be lost, duplicated or reordered: every frame is idempotent, deltas carry their
range, and whatever the peer has not confirmed is resent (`retransmit.py`).
"""

from __future__ import annotations

import logging
from typing import Any

from crdtstate.errors import AuthenticationError, DecodeError, ProtocolError
from crdtstate.resume_points import ResumePoints
from crdtstate.types import Crdt

from .backprop import HeldGroups, SentByPeer, push_part
from .digests import DigestExchange
from .events import (
    CloseKind,
    DeltasReceived,
    Event,
    PeerReady,
    PresenceReceived,
    SessionClosed,
    SessionPhase,
    SessionState,
    SessionStats,
    SyncSource,
    auth_proof,
)
from .framing import decode_entry, delta_frames
from .handshake import Handshake
from .messages import (
    Ack,
    Auth,
    Bye,
    Claim,
    Delta,
    Digest,
    Hello,
    Links,
    Presence,
    Resume,
    decode_message,
    encode_ack,
    encode_message,
)
from .presence import PresenceOutbox, PresenceSharing, read_presence
from .ranges import ReceivedRanges
from .relays import LinkBook, PeerLinks, Relaying
from .retransmit import Retransmission, RetransmitClock
from .window import PushWindow

log = logging.getLogger(__name__)
MAX_REASON = 1000  # a bye's reason is cut to fit the message (peer input may be in it)

__all__ = [
    "CloseKind",
    "DeltasReceived",
    "Event",
    "PeerReady",
    "PeerSession",
    "PresenceReceived",
    "SessionClosed",
    "SessionPhase",
    "SessionState",
    "SessionStats",
    "SyncSource",
    "auth_proof",
]


class PeerSession(Handshake, DigestExchange, Retransmission, Relaying, PresenceSharing):
    """The anti-entropy state shared with one peer over one connection.

    `back_propagation=False` also ships groups back to where they came from: classic delta
    shipping, kept only as a benchmark baseline. `ordered=True` (websockets) treats a frame
    out of turn as a protocol error rather than a reordering. Deltas are split into frames of
    at most `max_frame_bytes`. With `max_pushes_in_flight`, a push waits while that many are
    unacknowledged: under load the groups made meanwhile go out joined, in one frame. With
    `resume` (the replica's `resume_points`), a reconnect to a peer run seen before resumes.
    """

    def __init__(
        self,
        source: SyncSource,
        *,
        nonce: bytes,
        secret: bytes | None = None,
        now: float = 0.0,
        retransmit_after: float = 5.0,
        max_retransmit_after: float | None = None,
        back_propagation: bool = True,
        ordered: bool = False,
        max_frame_bytes: int = 16 * 1024 * 1024,
        ack_delay: float = 0.0,
        max_pushes_in_flight: int | None = None,
        resume: ResumePoints | None = None,
        links: LinkBook | None = None,  # the mesh's open sessions: relay avoidance (relays.py)
    ) -> None:
        self.source = source
        self.state = SessionState.AWAIT_HELLO
        self.peer: str | None = None
        self.peer_incarnation: int | None = None
        self.stats = SessionStats()
        self.close_reason: str | None = None
        self._nonce = nonce
        self._peer_nonce = b""
        self._secret = secret
        self._back_propagation = back_propagation
        # On an ordered, reliable transport (a websocket) a frame out of turn is a protocol
        # error; on a lossy one (the simulator) it is a reordering, ignored.
        self._ordered = ordered
        self._max_frame_bytes = max_frame_bytes
        self._max_in_flight = max_pushes_in_flight
        # An ack that cannot ride on a delta waits this long for one (halving the frames of
        # a busy link); acks only free buffer space and stop retransmissions, so a few
        # milliseconds cost nothing.
        self._ack_delay = ack_delay
        self._ack_due_since: float | None = None
        self.answer_pending = False  # a digest answer is queued: the driver awaits commits first
        self._clock = RetransmitClock(retransmit_after, max_retransmit_after)
        self._outbox: list[bytes] = []
        self._presence = PresenceOutbox()  # Yjs awareness for the peer (ephemeral, coalesced)
        self.window = PushWindow(now)  # sending side, in our own sequence numbers
        self._held = HeldGroups()  # our groups the peer sent us back (BP marks)
        self._sent_by_peer = SentByPeer()  # a lower bound of the peer's state, to trim pushes
        self._links = PeerLinks(links if ordered and back_propagation else None, source.id)
        # Receiving side, in the peer's sequence numbers.
        self.held = ReceivedRanges()
        self.pulled = False  # the peer answered our digest
        self._awaiting_answer = False  # a digest of ours is out and not answered yet
        self._ack_due = False
        self._applying: dict[int, int] = {}  # upto -> since of deltas handed to the driver
        self._peer_open = False  # the peer sent a frame only an open session sends
        self._hello_at = now
        self._hello_reply_at = -float("inf")
        self._digest_at = now
        self._book = resume  # what the replica remembers of its peers (None: always digests)
        self._init_exchange()
        self._queue_hello()

    # -- input ----------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed one frame from the peer; returns what the driver must act on."""
        if self.state is SessionState.CLOSED:
            return []
        self.stats.frames_in += 1
        self.stats.bytes_in += len(data)
        try:
            message = decode_message(data)
            self._clock.heard()
            return self._handle(message, now)
        except ProtocolError as exc:
            kind = CloseKind.AUTH if isinstance(exc, AuthenticationError) else CloseKind.PROTOCOL
            return [self._fail(exc.reason, kind)]

    def _handle(self, message: Any, now: float) -> list[Event]:
        if isinstance(message, Bye):
            self.state = SessionState.CLOSED
            self.close_reason = message.reason
            return [SessionClosed(message.reason, CloseKind.PEER)]
        if isinstance(message, Hello):
            return self._on_hello(message, now)
        if self.state is SessionState.AWAIT_HELLO:
            if self._ordered:
                raise ProtocolError(f"unexpected {message.type} while {self.state.value}")
            # Reordered ahead of the peer's hello (or sent after ours was lost): the peer
            # resends it, and nothing is applied before the peer is identified.
            self.stats.ignored += 1
            return []
        if isinstance(message, Auth):
            return self._on_auth(message, now)
        if self.state is SessionState.AWAIT_AUTH:
            if self._ordered:
                raise AuthenticationError(f"expected auth, got {message.type}")
            self.stats.ignored += 1  # not authenticated yet: nothing is read or applied
            return []
        self._peer_open = True
        if isinstance(message, Digest):
            self._on_digest(message, now)
            return []
        if isinstance(message, Claim):
            self._on_claim(message, now)
            return []
        if isinstance(message, Resume):
            self._on_resume(message, now)
            return []
        if isinstance(message, Delta):
            if message.ack is not None:
                self._on_ack(message.ack, now)
            return self._on_delta(message)
        if isinstance(message, Ack):
            self._on_ack(message.upto, now)
            return []
        if isinstance(message, Presence):
            return [PresenceReceived(read_presence(message))]
        if isinstance(message, Links):
            return self._on_links(message, now)
        raise ProtocolError(f"unexpected {message.type} while {self.state.value}")

    def _open(self, now: float) -> list[Event]:
        assert self.peer is not None and self.peer_incarnation is not None
        self.state = SessionState.OPEN
        self._start_exchange(now)
        return [PeerReady(self.peer, self.peer_incarnation)]

    def _on_delta(self, message: Delta) -> list[Event]:
        deltas: dict[str, Crdt] = {}
        for name, kind, payload in message.entries:
            if name in deltas:
                raise ProtocolError(f"object {name!r} appears twice in one delta")
            try:
                deltas[name] = decode_entry(kind, payload, self.source.local_class(name))
            except DecodeError as exc:
                raise ProtocolError(f"malformed delta for {name!r}: {exc}") from exc
        if message.since is None:
            self.pulled = True
            self._awaiting_answer = False
        if self._back_propagation and deltas and self.peer is not None:
            unsettled = self._links.unsettled(self.source.groups_after(self.window.start()))
            self._held.learn(unsettled, self.peer, deltas)
            self._sent_by_peer.learn(deltas)
        since = 0 if message.since is None else message.since
        self._applying[message.upto] = min(since, self._applying.get(message.upto, since))
        return [DeltasReceived(deltas, message.upto, message.since)]

    def _on_ack(self, upto: int, now: float) -> None:
        if upto > self.source.sequence:
            raise ProtocolError(f"ack {upto} beyond our sequence {self.source.sequence}")
        self.window.acknowledged(upto, now)
        self._point.note(acked=upto, known_held=self.window.known_held)
        self._held.forget_through(self.window.acked)

    @property
    def phase(self) -> SessionPhase:
        if self.state in (SessionState.AWAIT_HELLO, SessionState.AWAIT_AUTH):
            return SessionPhase.HANDSHAKE
        if self.state is SessionState.CLOSED:
            return SessionPhase.CLOSED
        return SessionPhase.PUSHING if self.window.serving else SessionPhase.DIGESTS

    @property
    def acked(self) -> int:
        """Our groups the peer acknowledged: every one up to this sequence."""
        return self.window.acked

    @property
    def sent(self) -> int:
        """Our groups pushed to the peer: every one up to this sequence."""
        return self.window.sent

    # -- driver calls ---------------------------------------------------------------------

    def acknowledge(self, upto: int) -> None:
        """The deltas of a `DeltasReceived` ending at `upto` are applied (and durable)."""
        since = self._applying.pop(upto, None)
        if since is not None and self.state is SessionState.OPEN:
            self.held.add(since, upto)
            self._point.note(held=self.held.upto)
            self._ack_due = True  # also when nothing advanced: our last ack may be lost

    def abort(self, reason: str) -> SessionClosed:
        """End the session because of a local failure (e.g. the deltas could not be applied)."""
        return self._fail(reason, CloseKind.PROTOCOL)

    def close(self, reason: str = "closing") -> None:
        """End the session cleanly: a bye goes out with the remaining frames."""
        reason = reason[:MAX_REASON]
        if self.state is not SessionState.CLOSED:
            self._queue(Bye(reason=reason))
            self.state = SessionState.CLOSED
            self.close_reason = reason

    # -- output ---------------------------------------------------------------------------

    def wants_to_send(self) -> bool:
        return (
            bool(self._outbox)
            or bool(self._presence)
            or self._can_push()
            or (self._ack_due and not self._ack_delay)
        )

    def data_to_send(self, now: float) -> list[bytes]:
        """Frames to send now, including an eager push of whatever the buffer gained."""
        if self.state is not SessionState.CLOSED:
            self._retransmit_due(now)
            self._announce_links()
        if self._can_push():
            try:
                self._push(now)
            except ProtocolError as exc:  # a single object's delta exceeds the frame limit
                self._fail(exc.reason, CloseKind.PROTOCOL)
        if self._ack_due and self.state is SessionState.OPEN:
            if self._ack_due_since is None:
                self._ack_due_since = now
            blocked = self.window.full(self._max_in_flight)  # no push of ours to ride on soon
            if blocked or now >= self._ack_due_since + self._ack_delay:
                self._queue_frame(encode_ack(self.held.upto), "ack")
                self._ack_due = False
        if not self._ack_due:
            self._ack_due_since = None
        if self._presence and self.state is SessionState.OPEN:
            for message in self._presence.drain(self._max_frame_bytes):
                self._queue(message)
        self.answer_pending = False
        frames, self._outbox = self._outbox, []
        return frames

    def needs_from(self) -> int | None:
        """The sequence after which this session may still need buffered groups."""
        if self.state is not SessionState.OPEN or not self.window.serving:
            return None
        return self.window.needs_from()

    def _can_push(self) -> bool:
        return (
            self.state is SessionState.OPEN
            and self.window.serving
            and self.window.start() < self.source.sequence
            and not self.window.full(self._max_in_flight)
        )

    def _push(self, now: float) -> None:
        source, window = self.source, self.window
        upto = source.sequence
        # Groups in (sent, considered] are held by the peer (and may be collected already).
        start = window.start()
        if not source.can_serve(start):
            self._resync(now)  # the groups this peer still needs were dropped
            return
        peer = self.peer if self._back_propagation else None
        held, sent = self._held, self._sent_by_peer
        deltas = push_part(source, start, peer, self.peer_incarnation, held, sent, self._links)
        window.considered_through(upto, found=bool(deltas))
        self._point.note(known_held=window.known_held)
        if not deltas:  # every new group is held by the peer: no frame (the next frame's range
            return  # starts at the last one's end, so it covers these and acks stay whole)
        self._queue_delta(deltas, window.sent, upto)
        window.pushed(upto, now)

    def _queue_delta(self, deltas: dict[str, Crdt], since: int | None, upto: int) -> None:
        """Queue `deltas` as frames of at most `max_frame_bytes`.

        When they must be split, only the last frame carries the range: the earlier ones claim
        no group (an empty range), so an ack never covers a group before all of it arrived.
        (Splitting relies on the frames arriving in order, as on a websocket.)
        """
        self._sent_max = max(self._sent_max, upto)
        self._point.note(sent=upto)
        ack = self.held.upto if self._ack_due else None
        frames = delta_frames(deltas, upto, since, ack, self._max_frame_bytes, self._ordered)
        self._ack_due = False
        for frame, payload in frames:
            self._queue_frame(frame, "delta")
            self.stats.payload_bytes_out += payload

    def _queue(self, message: Any) -> bytes:
        return self._queue_frame(encode_message(message), message.type)

    def _queue_frame(self, frame: bytes, kind: str) -> bytes:
        self._outbox.append(frame)
        self.stats.frames_out += 1
        self.stats.bytes_out += len(frame)
        by_type = self.stats.frames_by_type
        by_type[kind] = by_type.get(kind, 0) + 1
        return frame

    def _fail(self, reason: str, kind: CloseKind) -> SessionClosed:
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 3] + "..."
        log.warning("session with %s ended: %s", self.peer or "unidentified peer", reason)
        self.stats.last_error = reason
        if self.state is not SessionState.CLOSED:
            self._outbox.clear()
            self._queue(Bye(reason=reason))
            self.state = SessionState.CLOSED
            self.close_reason = reason
        return SessionClosed(reason, kind)
