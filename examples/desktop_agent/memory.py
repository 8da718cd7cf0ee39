"""An offline-first agent's memory: notes as shared text, tags as a set, settings as registers.

Everything lives in one crdtstate replica, so edits never wait for the network; `sync_with`
joins a mesh of other agents or a `crdtstate serve` node whenever one is reachable, and the
replica converges with them. With a path the memory lives in a SQLite file and survives
restarts and crashes (every acknowledged edit is on disk before `update` returns).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from crdtstate import AWSet, Document, LWWRegister, Replica
from transport import open_mesh


class AgentMemory:
    def __init__(self, replica: Replica) -> None:
        self.replica = replica
        self.notes = replica.container("notes", Document)
        self.tags = replica.container("tags", AWSet)
        self.model = replica.container("settings/model", LWWRegister)
        self.temperature = replica.container("settings/temperature", LWWRegister)

    @classmethod
    @asynccontextmanager
    async def open(
        cls, agent_id: str, path: str | os.PathLike[str] | None = None
    ) -> AsyncIterator[AgentMemory]:
        """The agent's memory: in `path` (a SQLite file, created or reopened), or in memory."""
        async with Replica.open(agent_id, path) as replica:
            yield cls(replica)

    async def note(self, line: str) -> None:
        """Append a line to the shared notes."""
        await self.notes.update(lambda d: d.text("body").insert(len(d.text("body")), line + "\n"))

    async def tag(self, *tags: str) -> None:
        await self.tags.update(lambda s: s.update(tags))

    async def untag(self, tag: str) -> None:
        await self.tags.update(lambda s: s.discard(tag))

    async def configure(self, **settings: Any) -> None:
        if "model" in settings:
            await self.model.update(lambda r: r.assign(settings["model"]))
        if "temperature" in settings:
            await self.temperature.update(lambda r: r.assign(settings["temperature"]))

    async def snapshot(self) -> dict[str, Any]:
        return {
            "notes": (await self.notes.get()).get("body", ""),
            "tags": sorted(await self.tags.get()),
            "model": await self.model.get(),
            "temperature": await self.temperature.get(),
        }

    @asynccontextmanager
    async def sync_with(
        self, peers: list[str] = (), listen: str | None = "127.0.0.1:0"
    ) -> AsyncIterator[Any]:
        """Join the mesh (listening, and dialing `peers`) for the duration of the block."""
        async with open_mesh(self.replica, listen=listen, peers=peers) as mesh:
            yield mesh
