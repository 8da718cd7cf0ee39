"""crdtstate: application state replicated across peers without locks or a leader.

State objects are delta-state CRDTs; a `Replica` holds them and hands out containers with the
same `get` / `update` / `subscribe` / `version` API as the lock-based `LockedContainer`.
"""

from .changes import Change
from .clocks import CausalContext, Dot, VersionVector
from .docsnapshot import DocumentSnapshot
from .errors import (
    AsyncUpdaterError,
    AuthenticationError,
    CorruptDatabaseError,
    CrdtStateError,
    DatabaseInUseError,
    DecodeError,
    IncompatibleFormatError,
    InsufficientRightsError,
    InvalidArgumentError,
    InvalidValueError,
    KindMismatchError,
    NoHistoryError,
    NotADatabaseError,
    PeersMissingError,
    ProtocolError,
    ReplicaClosedError,
    ReplicaIdMismatchError,
    StorageError,
)
from .hlc import HybridLogicalClock, Timestamp
from .locked import LockedContainer
from .replica import Replica
from .replicated import ReplicatedContainer
from .storage import Durability, SnapshotPolicy
from .types import (
    AWSet,
    BoundedCounter,
    Crdt,
    Document,
    DWFlag,
    EWFlag,
    ExpiringMap,
    ExpiringRegister,
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
    "AsyncUpdaterError",
    "AuthenticationError",
    "BoundedCounter",
    "CausalContext",
    "Change",
    "CorruptDatabaseError",
    "Crdt",
    "CrdtStateError",
    "DWFlag",
    "DatabaseInUseError",
    "DecodeError",
    "Document",
    "DocumentSnapshot",
    "Dot",
    "Durability",
    "EWFlag",
    "ExpiringMap",
    "ExpiringRegister",
    "GCounter",
    "GSet",
    "HybridLogicalClock",
    "IncompatibleFormatError",
    "InsufficientRightsError",
    "InvalidArgumentError",
    "InvalidValueError",
    "KindMismatchError",
    "LWWRegister",
    "LockedContainer",
    "MVRegister",
    "NoHistoryError",
    "NotADatabaseError",
    "ORMap",
    "PNCounter",
    "PeersMissingError",
    "ProtocolError",
    "RWSet",
    "Replica",
    "ReplicaClosedError",
    "ReplicaIdMismatchError",
    "ReplicatedContainer",
    "SnapshotPolicy",
    "StorageError",
    "Timestamp",
    "VersionVector",
]
