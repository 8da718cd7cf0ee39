"""crdtstate: application state replicated across peers without locks or a leader.

State objects are delta-state CRDTs; a `Replica` holds them and hands out containers with the
same `get` / `update` / `subscribe` / `version` API as the lock-based `LockedContainer`.
"""

from .changes import Change
from .clocks import CausalContext, Dot, VersionVector
from .errors import (
    AuthenticationError,
    CorruptDatabaseError,
    CrdtStateError,
    DatabaseInUseError,
    DecodeError,
    IncompatibleFormatError,
    InvalidValueError,
    KindMismatchError,
    NoHistoryError,
    NotADatabaseError,
    ProtocolError,
    ReplicaClosedError,
    ReplicaIdMismatchError,
    StorageError,
)
from .locked import LockedContainer
from .replica import Replica
from .replicated import ReplicatedContainer
from .storage import Durability, SnapshotPolicy
from .types import AWSet, Crdt, GCounter, PNCounter

__all__ = [
    "AWSet",
    "AuthenticationError",
    "CausalContext",
    "Change",
    "CorruptDatabaseError",
    "Crdt",
    "CrdtStateError",
    "DatabaseInUseError",
    "DecodeError",
    "Dot",
    "Durability",
    "GCounter",
    "IncompatibleFormatError",
    "InvalidValueError",
    "KindMismatchError",
    "LockedContainer",
    "NoHistoryError",
    "NotADatabaseError",
    "PNCounter",
    "ProtocolError",
    "Replica",
    "ReplicaClosedError",
    "ReplicaIdMismatchError",
    "ReplicatedContainer",
    "SnapshotPolicy",
    "StorageError",
    "VersionVector",
]
