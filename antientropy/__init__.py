"""The anti-entropy sync protocol, Sans-I/O: messages in, messages and deltas out."""

from .garbage import collect_garbage
from .messages import PROTOCOL_VERSION, Ack, Auth, Bye, Delta, Digest, Hello
from .session import (
    CloseKind,
    DeltasReceived,
    PeerReady,
    PeerSession,
    SessionClosed,
    SessionState,
    SessionStats,
)

__all__ = [
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
    "SessionClosed",
    "SessionState",
    "SessionStats",
    "collect_garbage",
]
