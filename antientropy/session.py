"""One peer's anti-entropy session as a Sans-I/O state machine (h11 / websockets style).

Bytes in through `receive_data`, events out (a peer identified, deltas to apply, the session
closed), frames out through `data_to_send`, the current time passed in. No I/O, no sleeping:
the websocket driver and the simulator run the very same object.

Protocol (DESIGN §4): both sides send `Hello`; with a shared secret, both prove it with `Auth`
(HMAC over both nonces and both ids, so a replayed handshake fails); then each sends its
per-object `Digest` and answers the peer's with a `Delta` of what the peer lacks, stamped with
its current sequence. From then on, groups the buffer gains are pushed eagerly (everything
after what was last sent, joined, leaving out the peer's own groups: BP); the peer acks; an
unacknowledged push is resent after `retransmit_after`; a peer the buffer can no longer serve
is resynchronised by digests.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from crdtstate import codec
from crdtstate.buffer import DeltaBuffer
from crdtstate.errors import AuthenticationError, DecodeError, ProtocolError
from crdtstate.types import KINDS, Crdt

from .messages import (
    PROTOCOL_VERSION,
    Ack,
    Auth,
    Bye,
    Delta,
    Digest,
    Hello,
    decode_message,
    encode_message,
)

log = logging.getLogger(__name__)
AUTH_LABEL = b"crdtstate-auth-v1"
FRAME_OVERHEAD = 64  # a Delta frame's bytes besides its entries


class SyncSource(Protocol):
    """What a session reads from its replica (all synchronous and in memory)."""

    id: str
    incarnation: int
    buffer: DeltaBuffer

    def object_digests(self) -> dict[str, tuple[str, Any]]: ...

    def deltas_since(self, digests: dict[str, tuple[str, Any]]) -> dict[str, Crdt]: ...


class SessionState(enum.Enum):
    AWAIT_HELLO = "await-hello"
    AWAIT_AUTH = "await-auth"
    OPEN = "open"
    CLOSED = "closed"


class CloseKind(enum.Enum):
    LOCAL = "local"  # we ended it cleanly
    PEER = "peer"  # the peer said bye
    PROTOCOL = "protocol"  # someone broke the protocol
    AUTH = "auth"  # authentication failed


@dataclass(frozen=True, slots=True)
class PeerReady:
    peer: str
    incarnation: int


@dataclass(frozen=True, slots=True)
class DeltasReceived:
    """Apply `deltas` (origin: the peer), then call `acknowledge(upto)`."""

    deltas: dict[str, Crdt]
    upto: int


@dataclass(frozen=True, slots=True)
class SessionClosed:
    reason: str
    kind: CloseKind


Event = PeerReady | DeltasReceived | SessionClosed


@dataclass(slots=True)
class SessionStats:
    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    payload_bytes_out: int = 0
    resyncs: int = 0
    retransmits: int = 0
    last_error: str | None = None


def auth_proof(secret: bytes, nonce_a: bytes, nonce_b: bytes, id_a: str, id_b: str) -> bytes:
    """The proof `id_a` sends to `id_b`: HMAC over both nonces and both ids, in that order."""
    message = b"|".join([AUTH_LABEL, nonce_a, nonce_b, id_a.encode(), id_b.encode()])
    return hmac.new(secret, message, hashlib.sha256).digest()


class PeerSession:
    def __init__(
        self,
        source: SyncSource,
        *,
        nonce: bytes,
        secret: bytes | None = None,
        now: float = 0.0,
        retransmit_after: float = 5.0,
        max_frame_bytes: int = 16 * 1024 * 1024,
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
        self._retransmit_after = retransmit_after
        self._max_frame_bytes = max_frame_bytes
        self._outbox: list[bytes] = []
        self._pending_ack: int | None = None  # acks coalesce: only the latest is sent
        # A digest answer is queued: computed from the replica's state, which on a durable
        # replica may hold updates still being committed (see `answer_pending`).
        self.answer_pending = False
        self._pushing = False  # set once we answered the peer's digest
        self.sent = 0  # highest of our sequences pushed to the peer
        self.acked = 0  # highest of our sequences the peer acknowledged (A[j])
        self._last_push = now
        self._queue(
            Hello(
                protocol=PROTOCOL_VERSION,
                replica=source.id,
                incarnation=source.incarnation,
                kinds=sorted(KINDS),
                nonce=nonce,
            )
        )

    # -- input ----------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed one frame from the peer; returns what the driver must act on."""
        if self.state is SessionState.CLOSED:
            return []
        self.stats.frames_in += 1
        self.stats.bytes_in += len(data)
        try:
            return self._handle(decode_message(data), now)
        except ProtocolError as exc:
            kind = CloseKind.AUTH if isinstance(exc, AuthenticationError) else CloseKind.PROTOCOL
            return [self._fail(exc.reason, kind)]

    def _handle(self, message: Any, now: float) -> list[Event]:
        if isinstance(message, Bye):
            self.state = SessionState.CLOSED
            self.close_reason = message.reason
            return [SessionClosed(message.reason, CloseKind.PEER)]
        if self.state is SessionState.AWAIT_HELLO:
            if not isinstance(message, Hello):
                raise self._unexpected(message)
            return self._on_hello(message)
        if self.state is SessionState.AWAIT_AUTH:
            if not isinstance(message, Auth):
                raise AuthenticationError(f"expected auth, got {message.type}")
            return self._on_auth(message)
        if isinstance(message, Digest):
            self._on_digest(message, now)
            return []
        if isinstance(message, Delta):
            return [DeltasReceived(self._decode_entries(message), message.upto)]
        if isinstance(message, Ack):
            self._on_ack(message)
            return []
        raise self._unexpected(message)

    def _unexpected(self, message: Any) -> ProtocolError:
        return ProtocolError(f"unexpected {message.type} while {self.state.value}")

    def _on_hello(self, hello: Hello) -> list[Event]:
        if hello.protocol != PROTOCOL_VERSION:
            raise ProtocolError(
                f"unsupported protocol version {hello.protocol} (this is {PROTOCOL_VERSION})"
            )
        if hello.replica == self.source.id:
            raise ProtocolError(f"peer claims our own replica id {hello.replica!r}")
        if hello.nonce == self._nonce:
            raise AuthenticationError("peer echoed our nonce")
        self.peer = hello.replica
        self.peer_incarnation = hello.incarnation
        self._peer_nonce = hello.nonce
        if self._secret is not None:
            proof = auth_proof(
                self._secret, self._nonce, self._peer_nonce, self.source.id, self.peer
            )
            self._queue(Auth(proof=proof))
            self.state = SessionState.AWAIT_AUTH
            return []
        return self._open()

    def _on_auth(self, auth: Auth) -> list[Event]:
        assert self._secret is not None and self.peer is not None
        expected = auth_proof(
            self._secret, self._peer_nonce, self._nonce, self.peer, self.source.id
        )
        if not hmac.compare_digest(expected, auth.proof):
            raise AuthenticationError("authentication failed: wrong secret or replayed handshake")
        return self._open()

    def _open(self) -> list[Event]:
        assert self.peer is not None and self.peer_incarnation is not None
        self.state = SessionState.OPEN
        self._send_digest(reply=False)
        return [PeerReady(self.peer, self.peer_incarnation)]

    def _send_digest(self, *, reply: bool) -> None:
        objects = {
            name: (kind, codec.digest_to_wire(kind, digest))
            for name, (kind, digest) in self.source.object_digests().items()
        }
        self._queue(Digest(objects=objects, reply=reply))

    def _on_digest(self, message: Digest, now: float) -> None:
        digests: dict[str, tuple[str, Any]] = {}
        try:
            for name, (kind, raw) in message.objects.items():
                digests[name] = (kind, codec.digest_from_wire(kind, raw))
        except DecodeError as exc:
            raise ProtocolError(f"malformed digest: {exc}") from exc
        upto = self.source.buffer.sequence
        self._queue_delta(self.source.deltas_since(digests), upto, now)
        self.answer_pending = True
        self.sent = max(self.sent, upto)
        self._pushing = True
        if message.reply:
            self._send_digest(reply=False)

    def _decode_entries(self, message: Delta) -> dict[str, Crdt]:
        deltas: dict[str, Crdt] = {}
        for name, kind, payload in message.entries:
            if name in deltas:
                raise ProtocolError(f"object {name!r} appears twice in one delta")
            try:
                deltas[name] = codec.from_wire([codec.FORMAT_VERSION, kind, payload])
            except DecodeError as exc:
                raise ProtocolError(f"malformed delta for {name!r}: {exc}") from exc
        return deltas

    def _on_ack(self, ack: Ack) -> None:
        if ack.upto > self.source.buffer.sequence:
            raise ProtocolError(f"ack {ack.upto} beyond our sequence {self.source.buffer.sequence}")
        if ack.upto > self.acked:
            self.acked = ack.upto
            self.sent = max(self.sent, self.acked)

    # -- driver calls ---------------------------------------------------------------------

    def acknowledge(self, upto: int) -> None:
        """The deltas of a `DeltasReceived` ending at `upto` are applied (and durable).

        Acks coalesce until `data_to_send`, so a peer that floods us while not reading our
        frames cannot make our outgoing queue grow.
        """
        if self.state is SessionState.OPEN:
            self._pending_ack = max(upto, self._pending_ack or 0)

    def abort(self, reason: str) -> SessionClosed:
        """End the session because of a local failure (e.g. the deltas could not be applied)."""
        return self._fail(reason, CloseKind.PROTOCOL)

    def close(self, reason: str = "closing") -> None:
        """End the session cleanly: a bye goes out with the remaining frames."""
        if self.state is not SessionState.CLOSED:
            self._queue(Bye(reason=reason))
            self.state = SessionState.CLOSED
            self.close_reason = reason

    # -- output ---------------------------------------------------------------------------

    def wants_to_send(self) -> bool:
        return bool(self._outbox) or self._pending_ack is not None or self._can_push()

    def data_to_send(self, now: float) -> list[bytes]:
        """Frames to send now, including an eager push of whatever the buffer gained."""
        if self.state is SessionState.OPEN:
            if self._pending_ack is not None:
                self._queue(Ack(upto=self._pending_ack))
            self._maybe_retransmit(now)
            if self._can_push():
                try:
                    self._push(now)
                except ProtocolError as exc:
                    self._fail(exc.reason, CloseKind.PROTOCOL)
        self._pending_ack = None
        self.answer_pending = False
        frames, self._outbox = self._outbox, []
        return frames

    def next_deadline(self) -> float | None:
        """When `data_to_send` should be called again even if nothing happens."""
        if self.state is SessionState.OPEN and self.acked < self.sent:
            return self._last_push + self._retransmit_after
        return None

    def needs_from(self) -> int | None:
        """The sequence after which this session may still need buffered groups."""
        if self.state is SessionState.OPEN and self._pushing:
            return self.acked
        return None

    def _can_push(self) -> bool:
        return (
            self.state is SessionState.OPEN
            and self._pushing
            and self.sent < self.source.buffer.sequence
        )

    def _push(self, now: float) -> None:
        buffer = self.source.buffer
        upto = buffer.sequence
        if not buffer.can_serve(self.sent):
            # The groups this peer still needs were dropped: resync by digests instead.
            self.stats.resyncs += 1
            self._pushing = False
            self._send_digest(reply=True)
            return
        deltas = buffer.collect(self.sent, exclude_origin=self.peer)
        nothing_in_flight = self.acked == self.sent
        self.sent = upto
        if deltas:
            self._queue_delta(deltas, upto, now)
        elif nothing_in_flight:
            # Every new group came from this peer (BP): it has them, no frame needed.
            self.acked = upto

    def _queue_delta(self, deltas: dict[str, Crdt], upto: int, now: float) -> None:
        """Queue `deltas` as one or more frames within the frame limit.

        Only the last frame carries `upto`: the earlier ones repeat what the peer already
        acknowledged, so an ack never claims groups whose deltas have not all arrived.
        """
        frames: list[list[tuple[str, str, Any]]] = [[]]
        room = self._max_frame_bytes - FRAME_OVERHEAD
        used = 0
        for name, delta in sorted(deltas.items()):
            entry = (name, delta.kind, delta.to_wire())
            size = len(codec.pack(entry))
            if size > room:
                raise ProtocolError(f"the delta of {name!r} ({size} bytes) exceeds the frame limit")
            if used + size > room and frames[-1]:
                frames.append([])
                used = 0
            frames[-1].append(entry)
            used += size
        for i, entries in enumerate(frames):
            frame = self._queue(
                Delta(upto=upto if i == len(frames) - 1 else self.acked, entries=entries)
            )
            self.stats.payload_bytes_out += len(frame)
        self._last_push = now

    def _maybe_retransmit(self, now: float) -> None:
        if self.acked < self.sent and now - self._last_push >= self._retransmit_after:
            self.stats.retransmits += 1
            self.sent = self.acked
            self._last_push = now

    def _queue(self, message: Any) -> bytes:
        frame = encode_message(message)
        self._outbox.append(frame)
        self.stats.frames_out += 1
        self.stats.bytes_out += len(frame)
        return frame

    def _fail(self, reason: str, kind: CloseKind) -> SessionClosed:
        log.warning("session with %s ended: %s", self.peer or "unidentified peer", reason)
        self.stats.last_error = reason
        if self.state is not SessionState.CLOSED:
            self._outbox.clear()
            self._queue(Bye(reason=reason))
            self.state = SessionState.CLOSED
            self.close_reason = reason
        return SessionClosed(reason, kind)
