"""crdtstate: application state replicated across peers without locks or a leader.

State objects are delta-state CRDTs; a `Replica` holds them and hands out containers with the
same `get` / `update` / `subscribe` / `version` API as the lock-based `LockedContainer`.
"""

from .changes import Change
from .clocks import CausalContext, Dot, VersionVector
from .errors import (
    AuthenticationError,
    CrdtStateError,
    DecodeError,
    InvalidValueError,
    KindMismatchError,
    NoHistoryError,
    ProtocolError,
    ReplicaClosedError,
)
from .locked import LockedContainer
from .replica import Replica
from .replicated import ReplicatedContainer
from .types import AWSet, Crdt, GCounter, PNCounter

__all__ = [
    "AWSet",
    "AuthenticationError",
    "CausalContext",
    "Change",
    "Crdt",
    "CrdtStateError",
    "DecodeError",
    "Dot",
    "GCounter",
    "InvalidValueError",
    "KindMismatchError",
    "LockedContainer",
    "NoHistoryError",
    "PNCounter",
    "ProtocolError",
    "Replica",
    "ReplicaClosedError",
    "ReplicatedContainer",
    "VersionVector",
]
