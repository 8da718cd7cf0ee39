"""The anti-entropy sync protocol, Sans-I/O: messages in, messages and deltas out."""

from .garbage import collect_garbage
from .messages import PROTOCOL_VERSION, Ack, Auth, Bye, Delta, Digest, Hello, Presence
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
    "SessionClosed",
    "SessionPhase",
    "SessionState",
    "SessionStats",
    "collect_garbage",
]
