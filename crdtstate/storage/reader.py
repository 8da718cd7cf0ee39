"""Validate a replica database and load its state without writing a byte of it.

Everything here runs on a read-only connection: `immutable=1` when no -wal file exists (so
SQLite creates no -wal or -shm file either), plain `mode=ro` when one does (a replica that was
killed, or is running: the WAL holds committed data that must be read). A file is loaded in full
(snapshot, then the journal folded on top, every record decoded and checksummed) before the
caller may open it for writing, so a damaged file is rejected while it is still untouched.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import codec
from ..errors import (
    CorruptDatabaseError,
    DatabaseInUseError,
    DecodeError,
    ReplicaIdMismatchError,
)
from ..types import Crdt, wire
from . import records
from .schema import META_KEYS, OPTIONAL_META_KEYS, check_header, check_schema, wal_path

log = logging.getLogger(__name__)
_BUSY = {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_BUSY_RECOVERY", "SQLITE_BUSY_SNAPSHOT"}


@dataclass(slots=True)
class StoredReplica:
    """A replica as found on disk: its identity, counters, objects and storage sizes."""

    path: Path
    replica_id: str
    sequence: int
    incarnation: int
    snapshot_sequence: int
    objects: dict[str, Crdt] = field(default_factory=dict)
    journal_groups: int = 0
    journal_bytes: int = 0
    snapshot_objects: int = 0
    snapshot_bytes: int = 0
    unfolded: set[str] = field(default_factory=set)  # objects the journal touched since
    stale: dict[str, Any] | None = None  # why the replica was found stale (`OwnWrites`)


def read_only_uri(path: Path) -> str:
    immutable = "" if wal_path(path).exists() else "&immutable=1"
    return f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro{immutable}"


def read_database(path: Path, expected_id: str | None = None) -> StoredReplica:
    """Check that `path` is an intact crdtstate database of `expected_id`, and load it."""
    check_header(path)
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise CorruptDatabaseError(f"{path} cannot be opened by SQLite: {exc}") from exc
    try:
        return _read(conn, path, expected_id)
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "") in _BUSY:
            raise DatabaseInUseError(f"{path} is locked by another process") from exc
        raise CorruptDatabaseError(f"{path} is damaged: {exc}{_integrity(conn)}") from exc
    except DecodeError as exc:
        raise CorruptDatabaseError(f"{path} is damaged: {exc}") from exc
    finally:
        conn.close()


def _read(conn: sqlite3.Connection, path: Path, expected_id: str | None) -> StoredReplica:
    conn.execute("PRAGMA cell_size_check = ON")  # catch more damage while reading pages
    conn.execute("BEGIN")  # one read transaction: a consistent view of a live database
    check_schema(conn, path)
    stored = _read_meta(conn, path)
    if expected_id is not None and expected_id != stored.replica_id:
        raise ReplicaIdMismatchError(
            f"{path} holds replica {stored.replica_id!r}, not {expected_id!r}: "
            "open it without an id, or give another path"
        )
    objects = stored.objects
    for name, kind, blob, crc in conn.execute("SELECT name, kind, state, checksum FROM snapshot"):
        state = records.verify(blob, crc, f"snapshot of {name!r}")
        objects[name] = codec.decode(state, kind)
        stored.snapshot_objects += 1
        stored.snapshot_bytes += len(state)
    rows = conn.execute("SELECT sequence, origin, deltas, checksum FROM journal ORDER BY sequence")
    for sequence, origin, blob, crc in rows:
        what = f"journal group {sequence}"
        if not stored.snapshot_sequence < sequence <= stored.sequence:
            raise DecodeError(f"{what} is outside ({stored.snapshot_sequence}, {stored.sequence}]")
        wire.replica_id(origin, f"{what} origin")
        for name, delta in records.decode_group(records.verify(blob, crc, what)).items():
            local = objects.setdefault(name, type(delta)())
            if type(local) is not type(delta):
                raise DecodeError(f"{what}: object {name!r} is a {local.kind}, not {delta.kind}")
            local.merge(delta)
            stored.unfolded.add(name)
        stored.journal_groups += 1
        stored.journal_bytes += len(blob)
    return stored


def _read_meta(conn: sqlite3.Connection, path: Path) -> StoredReplica:
    meta: dict[str, Any] = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if not set(META_KEYS) <= set(meta) <= {*META_KEYS, *OPTIONAL_META_KEYS}:
        raise DecodeError(f"meta keys {sorted(meta)} are not {sorted(META_KEYS)} (and stale)")
    stored = StoredReplica(
        path=path,
        replica_id=wire.replica_id(meta["replica_id"]),
        sequence=wire.expect_count(meta["sequence"], "sequence"),
        incarnation=wire.expect_count(meta["incarnation"], "incarnation"),
        snapshot_sequence=wire.expect_count(meta["snapshot_sequence"], "snapshot sequence"),
    )
    if stored.snapshot_sequence > stored.sequence:
        raise DecodeError("the snapshot claims to cover sequence numbers never handed out")
    if "stale" in meta:
        stored.stale = _stale_record(meta["stale"])
    return stored


def _stale_record(text: object) -> dict[str, Any]:
    """The stale mark as `Store.mark_stale` wrote it, or `DecodeError`."""
    try:
        record = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        record = None
    fields = {"reason": str, "name": str, "writer": str, "theirs": int, "ours": int}
    if not (
        isinstance(record, dict)
        and record.keys() == fields.keys()
        and all(type(record[k]) is t for k, t in fields.items())
    ):
        raise DecodeError(f"meta 'stale' is not a stale record: {text!r:.200}")
    return record


def _integrity(conn: sqlite3.Connection) -> str:
    """On suspicion only: what SQLite's own integrity check says (read-only, bounded)."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
    except sqlite3.Error as exc:
        return f" (integrity check failed too: {exc})"
    if problems == ["ok"]:
        return ""
    return " (integrity check: " + "; ".join(problems) + ")"
