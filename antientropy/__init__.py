"""The anti-entropy sync protocol, Sans-I/O: messages in, messages and deltas out."""

from .garbage import collect_garbage
from .messages import (
    PROTOCOL_VERSION,
    Ack,
    Auth,
    Bye,
    Claim,
    Delta,
    Digest,
    Hello,
    Presence,
    Resume,
)
from .presence import PRESENCE_TIMEOUT, PresenceTable
from .session import (
    CloseKind,
    DeltasReceived,
    PeerReady,
    PeerSession,
    PresenceReceived,
    SessionClosed,
    SessionPhase,
    SessionState,
    SessionStats,
)

__all__ = [
    "PRESENCE_TIMEOUT",
    "PROTOCOL_VERSION",
    "Ack",
    "Auth",
    "Bye",
    "Claim",
    "CloseKind",
    "Delta",
    "DeltasReceived",
    "Digest",
    "Hello",
    "PeerReady",
    "PeerSession",
    "Presence",
    "PresenceReceived",
    "PresenceTable",
    "Resume",
    "SessionClosed",
    "SessionPhase",
    "SessionState",
    "SessionStats",
    "collect_garbage",
]
