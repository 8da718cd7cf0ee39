"""What a session reads from its replica, the events it hands its driver, its named states,
and the counters it keeps: the vocabulary shared by the session and its drivers."""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from crdtstate.types import Crdt

from .backprop import BufferedGroup
from .yprotocol import AwarenessEntry

AUTH_LABEL = b"crdtstate-auth-v1"


class SyncSource(Protocol):
    """What a session reads from its replica (all synchronous and in memory; a session never
    writes to it). `crdtstate.replica_state.ReplicaState` is one, and so is `Replica`."""

    @property
    def id(self) -> str: ...

    @property
    def incarnation(self) -> int: ...

    @property
    def sequence(self) -> int:
        """The sequence number of the newest buffered delta-group."""

    def object_digests(self) -> dict[str, tuple[str, Any]]: ...

    def deltas_since(self, digests: dict[str, tuple[str, Any]]) -> dict[str, Crdt]: ...

    def can_serve(self, after: int) -> bool:
        """Whether every group after `after` is still buffered."""

    def collect(
        self, after: int, *, exclude_origin: str | None = None, held: Container[int] = ()
    ) -> dict[str, Crdt]:
        """The join of the groups after `after`, but those from `exclude_origin` or in `held`."""

    def groups_after(self, after: int) -> Sequence[BufferedGroup]: ...

    def local_class(self, name: str) -> type[Crdt] | None:
        """The class of the object `name` here (None if there is none): a peer's delta for it
        is decoded straight into it, so a declared kind validates every element once."""


class SessionState(enum.Enum):
    AWAIT_HELLO = "await-hello"
    AWAIT_AUTH = "await-auth"
    OPEN = "open"
    CLOSED = "closed"


class SessionPhase(enum.Enum):
    """Where a session is in the protocol (DESIGN §4), for drivers, tests and logs."""

    HANDSHAKE = "handshake"  # hello, and auth with a shared secret (`handshake.py`)
    DIGESTS = "digests"  # open; the peer's digest or claim not answered yet (or a resync)
    PUSHING = "pushing"  # open; the digest answered: new groups are pushed eagerly
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
    """Apply `deltas` (origin: the peer), then call `acknowledge(upto)`.

    They cover the peer's groups in (since, upto]; `since` is None for the answer to our
    digest, which covers every group up to `upto`.
    """

    deltas: dict[str, Crdt]
    upto: int
    since: int | None = None


@dataclass(frozen=True, slots=True)
class PresenceReceived:
    """Yjs awareness entries from the peer, by room: join them, deliver and relay what
    changed (nothing to acknowledge: awareness is ephemeral and renewed by its clients)."""

    rooms: dict[str, list[AwarenessEntry]]


@dataclass(frozen=True, slots=True)
class SessionClosed:
    reason: str
    kind: CloseKind


Event = PeerReady | DeltasReceived | PresenceReceived | SessionClosed


@dataclass(slots=True)
class SessionStats:
    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    payload_bytes_out: int = 0  # encoded deltas inside delta frames; the rest is metadata
    resyncs: int = 0
    retransmits: int = 0
    ignored: int = 0  # frames that arrived before the handshake allowed them (reordering)
    claims_accepted: int = 0  # the peer's claims we resumed from (`antientropy.digests`)
    claims_refused: int = 0  # ... and those we refused (it then sent its digest)
    last_error: str | None = None
    frames_by_type: dict[str, int] = field(default_factory=dict)

    @property
    def metadata_bytes_out(self) -> int:
        return self.bytes_out - self.payload_bytes_out


def auth_proof(secret: bytes, nonce_a: bytes, nonce_b: bytes, id_a: str, id_b: str) -> bytes:
    """The proof `id_a` sends to `id_b`: HMAC over both nonces and both ids, in that order."""
    message = b"|".join([AUTH_LABEL, nonce_a, nonce_b, id_a.encode(), id_b.encode()])
    return hmac.new(secret, message, hashlib.sha256).digest()
