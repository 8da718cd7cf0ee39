"""What `crdtstate inspect` shows: a replica database described for a person or as JSON.

Reads through `read_database`, so inspecting never writes to the file (and works on the
database of a running replica, through its WAL).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from ..types.values import sort_key
from .reader import read_database
from .schema import FORMAT_VERSION, wal_path

MAX_SHOWN = 100  # a person sees this many characters of a value, JSON always gets all of it


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The replica stored at `path`: identity, counters, storage sizes and every object.

    Values are the objects' Python values; `jsonable` turns the whole description into JSON.
    """
    path = Path(path)
    stored = read_database(path)
    wal = wal_path(path)
    return {
        "path": str(path),
        "replica_id": stored.replica_id,
        "format": FORMAT_VERSION,
        "sequence": stored.sequence,
        "incarnation": stored.incarnation,
        "stale": stored.stale,  # None, or why local updates are refused (README: backups)
        "file_bytes": path.stat().st_size,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "journal": {"groups": stored.journal_groups, "bytes": stored.journal_bytes},
        "snapshot": {
            "objects": stored.snapshot_objects,
            "bytes": stored.snapshot_bytes,
            "covers_sequence": stored.snapshot_sequence,
        },
        "objects": [
            {
                "name": name,
                "kind": obj.kind,
                "value": obj.value,
                "version": dict(sorted(obj.version.items())),
            }
            for name, obj in sorted(stored.objects.items())
        ],
    }


def jsonable(value: Any) -> Any:
    """A CRDT value as JSON: sets become sorted lists, tuples lists, bytes {"base64": ...}."""
    if isinstance(value, AbstractSet):
        return [jsonable(v) for v in sorted(value, key=sort_key)]
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    return value


def render(info: dict[str, Any]) -> str:
    """The description as aligned text for a terminal."""
    journal, snapshot = info["journal"], info["snapshot"]
    lines = [
        f"replica   {info['replica_id']}",
        f"file      {info['path']} ({info['file_bytes']:,} bytes, WAL {info['wal_bytes']:,} bytes,"
        f" format {info['format']})",
        f"counters  sequence {info['sequence']}, incarnation {info['incarnation']}",
        f"journal   {journal['groups']:,} delta-groups, {journal['bytes']:,} bytes",
        f"snapshot  {snapshot['objects']:,} objects, {snapshot['bytes']:,} bytes, covers sequence"
        f" {snapshot['covers_sequence']}",
        f"objects   {len(info['objects'])}",
    ]
    if info.get("stale"):
        lines.insert(3, f"STALE     {info['stale']['reason']}")
    width = max((len(o["name"]) for o in info["objects"]), default=0)
    for obj in info["objects"]:
        version = ", ".join(f"{r}:{n}" for r, n in obj["version"].items()) or "-"
        lines.append(
            f"  {obj['name']:<{width}}  {obj['kind']:<10} {_short(obj['value'])}  [{version}]"
        )
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, AbstractSet):
        text = "{" + ", ".join(repr(v) for v in sorted(value, key=sort_key)) + "}"
    else:
        text = repr(value)
    if len(text) <= MAX_SHOWN:
        return text
    count = f" ({len(value)} elements)" if isinstance(value, AbstractSet) else ""
    return text[: MAX_SHOWN - 3] + "..." + count
