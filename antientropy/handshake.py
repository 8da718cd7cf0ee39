"""The handshake phase of a session: hello, then (with a shared secret) auth, both ways.

Each side sends `Hello` (protocol version, replica id, incarnation, a fresh nonce). With a
shared secret, each then proves it with `Auth`: an HMAC over both nonces and both ids, so the
secret never crosses the wire and a replayed handshake fails. A repeated hello is a duplicate
(or the peer never got ours, which is resent); a different one is a protocol error. The
session opens (`PeerReady`) once the peer is identified and, with a secret, authenticated.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from crdtstate.errors import AuthenticationError, ProtocolError

from .events import Event, SessionState, SyncSource, auth_proof
from .messages import PROTOCOL_VERSION, Auth, Hello
from .retransmit import RetransmitClock


class Handshake:
    """The handshake half of `PeerSession` (a mixin: the state lives in the session)."""

    source: SyncSource
    state: SessionState
    peer: str | None
    peer_incarnation: int | None
    _nonce: bytes
    _peer_nonce: bytes
    _secret: bytes | None
    _peer_open: bool
    _hello_reply_at: float
    _clock: RetransmitClock

    if TYPE_CHECKING:  # provided by PeerSession

        def _queue(self, message: Any) -> bytes: ...

        def _open(self, now: float) -> list[Event]: ...

    def _on_hello(self, hello: Hello, now: float) -> list[Event]:
        if self.peer is not None:
            return self._on_hello_again(hello, now)
        if hello.replica == self.source.id:
            raise ProtocolError(f"peer claims our own replica id {hello.replica!r}")
        if hello.nonce == self._nonce:
            raise AuthenticationError("peer echoed our nonce")
        self.peer = hello.replica
        self.peer_incarnation = hello.incarnation
        self._peer_nonce = hello.nonce
        if self._secret is not None:
            self._queue(Auth(proof=self._our_proof()))
            self.state = SessionState.AWAIT_AUTH
            return []
        return self._open(now)

    def _on_hello_again(self, hello: Hello, now: float) -> list[Event]:
        """A repeated hello: a duplicate, or the peer never got ours. Anything else is a
        second handshake inside one session, which the protocol does not allow."""
        same = (hello.replica, hello.incarnation, hello.nonce) == (
            self.peer,
            self.peer_incarnation,
            self._peer_nonce,
        )
        if not same:
            raise ProtocolError("a second, different hello within one session")
        if not self._peer_open and now - self._hello_reply_at >= self._clock.after:
            self._hello_reply_at = now
            self._queue_hello()
        return []

    def _our_proof(self) -> bytes:
        assert self._secret is not None and self.peer is not None
        return auth_proof(self._secret, self._nonce, self._peer_nonce, self.source.id, self.peer)

    def _on_auth(self, auth: Auth, now: float) -> list[Event]:
        if self._secret is None:
            raise ProtocolError("unexpected auth: this side has no shared secret")
        assert self.peer is not None
        expected = auth_proof(
            self._secret, self._peer_nonce, self._nonce, self.peer, self.source.id
        )
        if not hmac.compare_digest(expected, auth.proof):
            raise AuthenticationError("authentication failed: wrong secret or replayed handshake")
        if self.state is SessionState.OPEN:
            return []  # a duplicate of the proof we already accepted
        return self._open(now)

    def _queue_hello(self) -> None:
        self._queue(
            Hello(
                protocol=PROTOCOL_VERSION,
                replica=self.source.id,
                incarnation=self.source.incarnation,
                nonce=self._nonce,
            )
        )
        if self.state is SessionState.AWAIT_AUTH or (
            self.state is SessionState.OPEN and self._secret is not None
        ):
            self._queue(Auth(proof=self._our_proof()))
