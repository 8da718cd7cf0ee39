"""crdtstate: application state replicated across peers without locks or a leader.

State objects are delta-state CRDTs; a `Replica` holds them and hands out containers with the
same `get` / `update` / `subscribe` / `version` API as the lock-based `LockedContainer`.
"""

from .containers.changes import Change
from .containers.locked import LockedContainer
from .containers.replicated import ReplicatedContainer
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
    StaleReplicaError,
    StorageError,
)
from .replica import Replica
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
from .types.clocks import CausalContext, Dot, VersionVector
from .types.hlc import HybridLogicalClock, Timestamp
from .types.yjs.docsnapshot import DocumentSnapshot

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
    "StaleReplicaError",
    "StorageError",
    "Timestamp",
    "VersionVector",
]
