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
from .hlc import HybridLogicalClock, Timestamp
from .locked import LockedContainer
from .replica import Replica
from .replicated import ReplicatedContainer
from .types import (
    AWSet,
    Crdt,
    Document,
    DWFlag,
    EWFlag,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORMap,
    PNCounter,
    RWSet,
)

__all__ = [
    "AWSet",
    "AuthenticationError",
    "CausalContext",
    "Change",
    "Crdt",
    "CrdtStateError",
    "DWFlag",
    "DecodeError",
    "Document",
    "Dot",
    "EWFlag",
    "GCounter",
    "GSet",
    "HybridLogicalClock",
    "InvalidValueError",
    "KindMismatchError",
    "LWWRegister",
    "LockedContainer",
    "MVRegister",
    "NoHistoryError",
    "ORMap",
    "PNCounter",
    "ProtocolError",
    "RWSet",
    "Replica",
    "ReplicaClosedError",
    "ReplicatedContainer",
    "Timestamp",
    "VersionVector",
]
