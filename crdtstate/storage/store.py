"""The replica's database: one read-write SQLite connection, used from worker threads.

Every method blocks on disk I/O, so the replica calls them through `anyio.to_thread.run_sync`;
a lock serialises them, so the one connection (`check_same_thread=False`) is never used by
two threads at once. A new database is built under a temporary name and linked into place
only when complete, so a crash during creation never leaves a half-made file at `path`. While
open, the file is held with an exclusive `flock`: two replicas writing one database would hand
out the same dots.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

from ..errors import DatabaseInUseError, InvalidArgumentError, StorageError
from ..gcpause import gc_paused
from .reader import StoredReplica, read_database
from .schema import create_schema

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process guard
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


class Durability(enum.StrEnum):
    """What a committed update survives.

    PROCESS: the process being killed at any instant (WAL with synchronous=NORMAL: a commit is
    in the OS page cache before `update` returns; the OS writes it out later).
    POWER: also an OS crash or power loss (synchronous=FULL: the WAL is fsynced on every commit).
    """

    PROCESS = "process"
    POWER = "power"


class Store:
    """Appends delta-groups, folds them into snapshots, and keeps the durable counters."""

    def __init__(self, conn: sqlite3.Connection, path: Path, lock_fd: int) -> None:
        self.path = path
        self._conn = conn
        self._lock_fd = lock_fd
        self._mutex = threading.Lock()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        replica_id: str | None = None,
        durability: Durability = Durability.PROCESS,
        adopt_as_new_id: bool = False,
    ) -> tuple[Store, StoredReplica]:
        """Open (or create) the database at `path`; return it and the state it holds.

        The file is validated and loaded read-only first; only then is it opened for writing
        (and the incarnation bumped), so a file that is rejected is left exactly as it was.
        `adopt_as_new_id`: an existing database of another id is taken over by `replica_id`
        (stored with the bumped incarnation, in one transaction); its objects keep the old
        writer name on what was written under it.
        """
        path = Path(path)
        if adopt_as_new_id and (replica_id is None or not os.path.lexists(path)):
            raise InvalidArgumentError(
                "adopt_as_new_id needs a new replica id and an existing database"
            )
        if not os.path.lexists(path):
            _create(path, replica_id or uuid.uuid4().hex[:12])
        lock_fd = _lock(path)
        try:
            with gc_paused():  # decoding allocates the whole state (see crdtstate/gcpause)
                stored = read_database(path, None if adopt_as_new_id else replica_id)
            adopted = adopt_as_new_id and stored.replica_id != replica_id
            if adopt_as_new_id and not adopted:
                raise InvalidArgumentError(
                    f"{path} already belongs to {replica_id!r}: adopting needs a new id"
                )
            try:
                conn = _connect(path, Durability(durability))
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open {path} for writing: {exc}") from exc
            try:
                stored.incarnation += 1
                with _transaction(conn):
                    _set_meta(conn, incarnation=stored.incarnation)
                    if adopted:  # a new id: what made the old one stale is behind it
                        _set_meta(conn, replica_id=replica_id)
                        conn.execute("DELETE FROM meta WHERE key = 'stale'")
            except BaseException as exc:
                conn.close()
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"cannot write to {path}: {exc}") from exc
                raise
        except BaseException:
            os.close(lock_fd)
            raise
        if adopted:
            log.warning(
                "%s: replica %s adopted as new id %s (writes under %s are kept as they are)",
                path,
                stored.replica_id,
                replica_id,
                stored.replica_id,
            )
            stored.replica_id = replica_id
            stored.stale = None
        log.debug("opened %s: replica %s, sequence %d", path, stored.replica_id, stored.sequence)
        return cls(conn, path, lock_fd), stored

    def append(self, groups: Iterable[tuple[int, str, bytes, int]], sequence: int) -> None:
        """Journal (sequence, origin, deltas, checksum) rows and the new sequence, atomically."""
        with self._mutex, _transaction(self._conn):
            self._conn.executemany(
                "INSERT INTO journal (sequence, origin, deltas, checksum) VALUES (?, ?, ?, ?)",
                groups,
            )
            _set_meta(self._conn, sequence=sequence)

    def mark_stale(self, record: dict[str, object]) -> None:
        """Remember that the replica is stale (`OwnWrites`): a restart keeps refusing writes."""
        with self._mutex, _transaction(self._conn):
            _set_meta(self._conn, stale=json.dumps(record, sort_keys=True))

    def write_snapshot(self, states: Iterable[tuple[str, str, bytes, int]], covers: int) -> None:
        """Replace the snapshot rows of changed objects and drop the journal they fold."""
        with self._mutex, _transaction(self._conn):
            self._conn.executemany(
                "INSERT OR REPLACE INTO snapshot (name, kind, state, checksum) VALUES (?, ?, ?, ?)",
                states,
            )
            _set_meta(self._conn, snapshot_sequence=covers)
            self._conn.execute("DELETE FROM journal WHERE sequence <= ?", (covers,))

    def close(self) -> None:
        with self._mutex:
            try:
                self._conn.close()
            finally:
                os.close(self._lock_fd)


def _connect(path: Path, durability: Durability) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StorageError(f"{path}: SQLite refused WAL mode (got {mode!r})")
        full = durability is Durability.POWER
        conn.execute(f"PRAGMA synchronous = {'FULL' if full else 'NORMAL'}")
        conn.execute(f"PRAGMA fullfsync = {'ON' if full else 'OFF'}")  # macOS: a real flush
        conn.execute("PRAGMA trusted_schema = OFF")
    except BaseException:
        conn.close()
        raise
    return conn


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if kind is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


def _set_meta(conn: sqlite3.Connection, **values: object) -> None:
    conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items()))


def _create(path: Path, replica_id: str) -> None:
    """Build a complete database under a temporary name, then link it to `path`."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.creating")
    try:
        conn = sqlite3.connect(temporary, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            with _transaction(conn):
                create_schema(conn)
                _set_meta(
                    conn, replica_id=replica_id, sequence=0, incarnation=0, snapshot_sequence=0
                )
        finally:
            conn.close()
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            log.info("%s was created concurrently; opening that one", path)
        _fsync_directory(path.parent)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot create a database at {path}: {exc}") from exc
    finally:
        for suffix in ("", "-wal", "-shm"):
            temporary.with_name(temporary.name + suffix).unlink(missing_ok=True)
    log.info("created %s for replica %s", path, replica_id)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock(path: Path) -> int:
    """Hold `path` exclusively (released by `close`, or by the kernel when the process dies)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise StorageError(f"cannot open {path}: {exc.strerror or exc}") from exc
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise DatabaseInUseError(f"{path} is open in another replica") from exc
    return fd
