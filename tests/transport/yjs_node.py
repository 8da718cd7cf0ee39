"""Installs the npm packages a real Yjs client needs (once, into .cache/ at the repo root,
which git ignores) and runs `yjs_client.mjs` as a subprocess speaking JSON lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(os.environ.get("CRDTSTATE_NODE_CACHE", ROOT / ".cache" / "yjs-node"))
PACKAGES = ["yjs@13", "y-websocket@3", "ws@8"]
CLIENT = Path(__file__).with_name("yjs_client.mjs")


def install_yjs() -> Path:
    """`node_modules` with yjs 13, y-websocket 3 and ws, installed by npm if missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm must be on PATH for the Yjs interoperability test")
    if not (NODE_DIR / "node_modules" / "y-websocket" / "package.json").exists():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        (NODE_DIR / "package.json").write_text('{"private": true, "type": "module"}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES],
            cwd=NODE_DIR,
            check=True,
        )
    return NODE_DIR / "node_modules"


class NodeClient:
    """The Node process and the latest of each event it reported (anyio: trio or asyncio)."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        self.latest: dict[str, dict[str, Any]] = {}
        self.changed = anyio.Event()

    @classmethod
    async def start(cls, tasks: anyio.abc.TaskGroup, modules: Path, *args: str) -> NodeClient:
        """Run the client in `tasks`; cancelling them kills it."""
        # Node resolves bare imports from node_modules next to the script or its parents:
        # run a copy of the client inside the cache directory.
        script = modules.parent / CLIENT.name
        script.write_text(CLIENT.read_text())
        return await tasks.start(cls._run, ["node", str(script), *args])

    @classmethod
    async def _run(
        cls, command: list[str], *, task_status: anyio.abc.TaskStatus[NodeClient]
    ) -> None:
        async with await anyio.open_process(command, stderr=None) as process:
            client = cls(process)
            task_status.started(client)
            await client._read()
            await process.wait()

    async def _read(self) -> None:
        buffer = b""
        assert self.process.stdout is not None
        async for chunk in self.process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                event = json.loads(line)
                self.latest[event["event"]] = event
                self.changed.set()
                self.changed = anyio.Event()

    async def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(json.dumps(command).encode() + b"\n")

    async def wait_for(self, condition: Any) -> None:
        while not condition(self.latest):
            await self.changed.wait()
