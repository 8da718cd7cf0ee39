"""The on-disk format: SQLite header fields, tables, and the checks that recognise our files.

A crdtstate database is a SQLite file stamped with our `application_id` and a `user_version`
equal to the storage format version. `check_header` reads the first 100 bytes with plain file
I/O, so a file that is not ours is rejected before SQLite ever opens it (and so before SQLite
could create a -wal or -shm file beside it, or touch it in any other way).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorruptDatabaseError, IncompatibleFormatError, NotADatabaseError

APPLICATION_ID = 0x43524454  # b"CRDT"
FORMAT_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100

TABLES = {
    "meta": "CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY NOT NULL) STRICT, WITHOUT ROWID",
    "journal": (
        "CREATE TABLE journal (sequence INTEGER PRIMARY KEY, origin TEXT NOT NULL,"
        " deltas BLOB NOT NULL, checksum INTEGER NOT NULL) STRICT"
    ),
    "snapshot": (
        "CREATE TABLE snapshot (name TEXT PRIMARY KEY, kind TEXT NOT NULL,"
        " state BLOB NOT NULL, checksum INTEGER NOT NULL) STRICT, WITHOUT ROWID"
    ),
}

# meta keys: replica_id (text), sequence (last anti-entropy sequence number handed out),
# incarnation (bumped on every open), snapshot_sequence (the journal prefix the snapshot folds)
META_KEYS = ("replica_id", "sequence", "incarnation", "snapshot_sequence")
# and, only once a peer held more of this replica's writes than it does (`OwnWrites`): stale
# (JSON text: reason, name, writer, theirs, ours), so a restart still refuses local updates;
# adopting the database under a new id drops it
OPTIONAL_META_KEYS = ("stale",)


@dataclass(frozen=True, slots=True)
class Header:
    page_size: int
    page_count: int | None  # None when the header's own size field is not marked valid
    user_version: int
    application_id: int


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def shm_path(path: Path) -> Path:
    return path.with_name(path.name + "-shm")


def check_header(path: Path) -> Header:
    """Read and validate the SQLite header of `path` without opening it with SQLite."""
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as f:
            raw = f.read(HEADER_SIZE)
    except IsADirectoryError as exc:
        raise NotADatabaseError(f"{path} is a directory, not a crdtstate database") from exc
    except OSError as exc:
        raise NotADatabaseError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise NotADatabaseError(f"{path} is an empty file, not a crdtstate database")
    if len(raw) < HEADER_SIZE or not raw.startswith(SQLITE_MAGIC):
        raise NotADatabaseError(f"{path} is not a crdtstate database (not a SQLite file)")
    header = _parse(raw)
    if header.application_id != APPLICATION_ID:
        raise NotADatabaseError(
            f"{path} is a SQLite database of another application "
            f"(application_id {header.application_id:#x}), not a crdtstate database"
        )
    if header.user_version != FORMAT_VERSION:
        newer = " (written by a newer release)" if header.user_version > FORMAT_VERSION else ""
        raise IncompatibleFormatError(
            f"{path} uses storage format {header.user_version}{newer}; this version of "
            f"crdtstate reads format {FORMAT_VERSION}"
        )
    if size % header.page_size:
        raise CorruptDatabaseError(
            f"{path} is damaged: its size {size} is not a multiple of its page size "
            f"{header.page_size} (truncated or padded)"
        )
    wal_pending = wal_path(path).exists()
    if not wal_pending and header.page_count and size < header.page_count * header.page_size:
        raise CorruptDatabaseError(
            f"{path} is damaged: it holds {size // header.page_size} pages, "
            f"its header says {header.page_count} (truncated)"
        )
    return header


def _parse(raw: bytes) -> Header:
    page_size = int.from_bytes(raw[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1) or raw[21:24] != b"\x40\x20\x20":
        raise CorruptDatabaseError("the SQLite header is damaged (page size or payload fractions)")
    change_counter = int.from_bytes(raw[24:28], "big")
    page_count = int.from_bytes(raw[28:32], "big")
    valid_for = int.from_bytes(raw[92:96], "big")
    return Header(
        page_size=page_size,
        page_count=page_count if page_count and change_counter == valid_for else None,
        user_version=int.from_bytes(raw[60:64], "big", signed=True),
        application_id=int.from_bytes(raw[68:72], "big", signed=False),
    )


def create_schema(conn: sqlite3.Connection) -> None:
    """Stamp and lay out a new, empty database (the caller owns the transaction)."""
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
    for sql in TABLES.values():
        conn.execute(sql)


def check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """The tables must be exactly ours: no missing, altered or extra ones."""
    rows = conn.execute("SELECT type, name, sql FROM sqlite_schema").fetchall()
    tables = {name: sql for kind, name, sql in rows if kind == "table"}
    others = sorted(name for kind, name, _ in rows if kind != "table")
    if tables != TABLES or others:
        raise CorruptDatabaseError(
            f"{path} has the crdtstate stamp but not its tables "
            f"(found tables {sorted(tables)}, other objects {others})"
        )
