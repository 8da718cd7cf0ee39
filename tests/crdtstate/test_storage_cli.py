"""`crdtstate serve --db` keeps a node's replica across restarts; `crdtstate inspect` shows it."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import trio

from crdtstate import AWSet, PNCounter, Replica
from transport import open_mesh

CLI = [sys.executable, "-m", "crdtstate"]


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "inspect", *args], capture_output=True, text=True, timeout=60)


async def make_database(path: Path) -> None:
    async with Replica.open("node-1", path) as replica:
        await replica.container("hits", PNCounter).update(lambda n: n.increment(5))
        await replica.container("tools", AWSet).update(
            lambda s: [s.add(e) for e in ("search", b"\x00raw", ("k", 1))]
        )


async def test_inspect_shows_id_objects_values_versions_and_sizes(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    await make_database(path)
    shown = inspect(str(path))
    assert shown.returncode == 0, shown.stderr
    assert "replica   node-1" in shown.stdout
    assert re.search(r"hits\s+pncounter\s+5\s+\[node-1:5\]", shown.stdout)
    assert re.search(r"tools\s+awset\s+\{\('k', 1\), 'search', b'\\x00raw'\}", shown.stdout)
    assert "journal   0 delta-groups" in shown.stdout
    assert "snapshot  2 objects" in shown.stdout


async def test_inspect_json(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    await make_database(path)
    shown = inspect("--json", str(path))
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["replica_id"] == "node-1"
    assert info["sequence"] == 2
    assert info["snapshot"]["objects"] == 2 and info["snapshot"]["covers_sequence"] == 2
    assert info["journal"] == {"groups": 0, "bytes": 0}
    objects = {o["name"]: o for o in info["objects"]}
    assert objects["hits"] == {
        "name": "hits",
        "kind": "pncounter",
        "value": 5,
        "version": {"node-1": 5},
    }
    assert objects["tools"]["value"] == [["k", 1], "search", {"base64": "AHJhdw=="}]


async def test_inspect_refuses_a_foreign_file_without_touching_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    shown = inspect(str(path))
    assert shown.returncode == 1
    assert "not a crdtstate database" in shown.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


async def start_node(*args: str) -> tuple[trio.Process, str]:
    """Start `crdtstate serve` on a free port; return it and the URL it logged."""
    process = await trio.lowlevel.open_process(
        [*CLI, "serve", "--listen", "127.0.0.1:0", *args], stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    logged = b""
    with trio.fail_after(30):  # a hang guard: the node logs its URL within a second
        while (found := re.search(rb"serving on (ws://\S+),", logged)) is None:
            chunk = await process.stderr.receive_some(4096)
            assert chunk, logged.decode()
            logged += chunk
    return process, found.group(1).decode()


async def stop_node(process: trio.Process) -> None:
    process.send_signal(signal.SIGTERM)
    with trio.fail_after(30):
        assert await process.wait() == 0


async def test_serve_with_a_database_keeps_state_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    node, url = await start_node("--id", "node-1", "--db", str(path))
    try:
        async with Replica.open("client") as client, open_mesh(client, None, [url]) as mesh:
            await client.container("tools", AWSet).update(lambda s: s.add("search"))
            writer = client.writer  # an in-memory client writes as "client~" and 8 letters
            with trio.fail_after(30):
                await mesh.wait_for_peers({"node-1"})
                while mesh.stats()[0].acknowledged < client.buffer.sequence:
                    await trio.sleep(0.01)  # the node journals before it acknowledges
    finally:
        await stop_node(node)
    info = json.loads(inspect("--json", str(path)).stdout)
    assert info["replica_id"] == "node-1"
    assert {"name": "tools", "kind": "awset", "value": ["search"], "version": {writer: 1}} in (
        info["objects"]
    )

    node, url = await start_node("--db", str(path))  # the id comes from the database
    try:
        async with Replica.open("fresh") as fresh, open_mesh(fresh, None, [url]) as mesh:
            with trio.fail_after(30):
                await mesh.wait_for_peers({"node-1"})
                while await fresh.container("tools", AWSet).get() != {"search"}:
                    await trio.sleep(0.01)  # the digest exchange brings it
    finally:
        await stop_node(node)


async def test_serve_refuses_a_database_of_another_node(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    await make_database(path)
    result = subprocess.run(
        [*CLI, "serve", "--id", "node-2", "--db", str(path), "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "holds replica 'node-1', not 'node-2'" in result.stderr
