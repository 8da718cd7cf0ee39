"""Files that are not an intact crdtstate database of ours are refused, and left untouched.

Each test builds a hostile file, fingerprints every file in its directory (so a -wal or -shm
file left beside it would show), tries to open it, and checks the error and the fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from crdtstate import AWSet, Replica
from crdtstate.errors import (
    CorruptDatabaseError,
    IncompatibleFormatError,
    NotADatabaseError,
    ReplicaIdMismatchError,
    StorageError,
)
from crdtstate.storage import read_database

pytestmark = pytest.mark.anyio

NEEDLE = b"needle-0042"


def fingerprint(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


async def refuse(path: Path, error: type[StorageError], match: str, **open_args: str) -> None:
    """Opening `path` raises `error` and changes no byte of any file beside it."""
    before = fingerprint(path.parent)
    with pytest.raises(error, match=match):
        async with Replica.open(path=path, **open_args):
            pass  # pragma: no cover
    with pytest.raises(error, match=match):
        read_database(path)  # what `crdtstate inspect` reads
    assert fingerprint(path.parent) == before


async def make_ours(path: Path) -> None:
    async with Replica.open("a", path) as a:
        tools = a.container("tools", AWSet)
        await tools.update(lambda s: [s.add(f"needle-{i:04}") for i in range(100)])


def page_size(data: bytes) -> int:
    size = int.from_bytes(data[16:18], "big")
    return 65536 if size == 1 else size


async def test_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("shopping list: eggs, milk\n" * 20)
    await refuse(path, NotADatabaseError, "not a SQLite file")


async def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    await refuse(path, NotADatabaseError, "empty file")


async def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.db"
    path.write_bytes(os.urandom(8192))
    await refuse(path, NotADatabaseError, "not a SQLite file")


async def test_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "dir.db"
    path.mkdir()
    (path / "inside").write_text("x")
    with pytest.raises(NotADatabaseError, match="directory"):
        async with Replica.open(path=path):
            pass  # pragma: no cover
    assert [p.name for p in path.iterdir()] == ["inside"]


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
async def test_another_programs_sqlite_database(tmp_path: Path, journal_mode: str) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    await refuse(path, NotADatabaseError, "another application")


async def test_a_database_from_a_newer_format_version(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    await make_ours(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    await refuse(path, IncompatibleFormatError, "format 2 .*newer.* reads format 1")


async def test_our_stamp_on_foreign_tables(tmp_path: Path) -> None:
    path = tmp_path / "altered.db"
    await make_ours(path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE snapshot")
    conn.execute("CREATE TABLE snapshot (whatever TEXT)")
    conn.commit()
    conn.close()
    await refuse(path, CorruptDatabaseError, "not its tables")


async def test_a_truncated_database(tmp_path: Path) -> None:
    path = tmp_path / "cut.db"
    await make_ours(path)
    data = path.read_bytes()
    pages = len(data) // page_size(data)
    assert pages >= 3
    path.write_bytes(data[: (pages // 2) * page_size(data)])
    await refuse(path, CorruptDatabaseError, "truncated")


async def test_a_database_cut_mid_page(tmp_path: Path) -> None:
    path = tmp_path / "torn.db"
    await make_ours(path)
    path.write_bytes(path.read_bytes()[:-100])
    await refuse(path, CorruptDatabaseError, "not a multiple of its page size")


async def test_a_flipped_byte_inside_a_stored_state(tmp_path: Path) -> None:
    path = tmp_path / "flipped.db"
    await make_ours(path)
    data = bytearray(path.read_bytes())
    at = data.index(NEEDLE)
    data[at + len(NEEDLE) - 1] ^= 0x01  # "needle-0042" -> "needle-0043": still decodes
    path.write_bytes(bytes(data))
    await refuse(path, CorruptDatabaseError, "checksum mismatch")


async def test_a_damaged_page_structure(tmp_path: Path) -> None:
    path = tmp_path / "garbled.db"
    await make_ours(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'snapshot'").fetchone()
    conn.close()
    data = bytearray(path.read_bytes())
    page_start = (root - 1) * page_size(data)
    data[page_start : page_start + 8] = b"\xff" * 8  # the b-tree page header: type, cells...
    path.write_bytes(bytes(data))
    await refuse(path, CorruptDatabaseError, "malformed")


async def test_a_damaged_sqlite_header(tmp_path: Path) -> None:
    path = tmp_path / "header.db"
    await make_ours(path)
    data = bytearray(path.read_bytes())
    data[16:18] = (1000).to_bytes(2, "big")  # not a power of two
    path.write_bytes(bytes(data))
    await refuse(path, CorruptDatabaseError, "header is damaged")


async def test_another_replicas_database(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    await make_ours(path)
    await refuse_id(path)


async def refuse_id(path: Path) -> None:
    before = fingerprint(path.parent)
    with pytest.raises(ReplicaIdMismatchError, match="holds replica 'a', not 'b'"):
        async with Replica.open("b", path):
            pass  # pragma: no cover
    assert fingerprint(path.parent) == before
    async with Replica.open("a", path) as a:  # the right id still opens it
        assert len(await a.container("tools", AWSet).get()) == 100


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("stale", "not json", "not a stale record"),
        ("stale", '{"reason": "r", "name": "s", "writer": "a", "theirs": "3", "ours": 1}', "stale"),
        ("surprise", "1", "meta keys"),
    ],
)
async def test_a_damaged_or_foreign_meta_row(
    tmp_path: Path, key: str, value: str, match: str
) -> None:
    """The meta table holds a fixed set of keys, and the stale mark (a JSON record) only as
    `Store.mark_stale` writes it: anything else refuses the load, naming what it found."""
    path = tmp_path / "meta.db"
    await make_ours(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
    conn.commit()
    conn.close()
    await refuse(path, CorruptDatabaseError, match)
