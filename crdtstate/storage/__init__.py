"""Durable replicas: a SQLite journal of delta-groups, folded into snapshots (DESIGN §3).

`schema` knows the file format and recognises our files; `records` encodes what a row holds;
`reader` validates and loads a database read-only; `store` is the one read-write connection;
`committer` batches concurrent delta-groups into shared transactions (anyio).
"""

from .committer import GroupCommitter, SnapshotPolicy, SnapshotRow
from .reader import StoredReplica, read_database
from .records import checksum
from .store import Durability, Store

__all__ = [
    "Durability",
    "GroupCommitter",
    "SnapshotPolicy",
    "SnapshotRow",
    "Store",
    "StoredReplica",
    "checksum",
    "read_database",
]
