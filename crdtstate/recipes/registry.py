"""A replicated registry (tools, resources, prompts): entries registered on one replica are
listed on all, and `watch` turns changes into callbacks such as MCP `list_changed`.

Entries are JSON-like specs under names in an `ORMap` of last-writer-wins registers: a
re-registration replaces the spec, an unregistration removes what it has seen (a concurrent
re-registration survives it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..replica import Replica
from ..types import ORMap

log = logging.getLogger(__name__)


class Registry:
    def __init__(self, replica: Replica, name: str) -> None:
        self.replica = replica
        self.container = replica.container(name, ORMap[str, Any])

    async def register(self, name: str, spec: dict[str, Any]) -> None:
        await self.container.update(lambda m: m.__setitem__(name, spec))

    async def unregister(self, name: str) -> None:
        await self.container.update(lambda m: m.pop(name, None))

    async def entries(self) -> dict[str, Any]:
        return dict(await self.container.get())

    async def watch(
        self,
        on_change: Callable[[dict[str, Any], str], Awaitable[None]],
        *,
        remote_only: bool = False,
    ) -> None:
        """Call `on_change(entries, origin)` after each change (coalesced when slow), until
        cancelled. `remote_only` skips this replica's own changes."""
        async with self.container.subscribe() as changes:
            async for change in changes:
                if remote_only and change.origin == self.replica.id:
                    continue
                try:
                    await on_change(dict(change.value), change.origin)
                except Exception:  # a failing callback must not stop the watch
                    log.exception("registry watcher failed on a change from %s", change.origin)
