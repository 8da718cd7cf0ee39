"""Session leases: a session record owned by the replica holding its live connection.

A stream cannot move between processes, so a session belongs to the replica that accepted it:
its record names that owner and a forwarding hint (where to send the session's requests), and
lives in an `ExpiringMap` under a lease. The owner renews the leases of the sessions it still
holds every `ttl / 3`; every replica sees the records; when the owner dies nobody renews them,
and they lapse everywhere `ttl` after the last renewal (within the clock skew), with no
coordination and nothing left behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc

from ..containers.expiry import collect_expired, hlc_reading
from ..replica import Replica
from ..types.expiring import ExpiringMap
from ..types.hlc import HybridLogicalClock, process_clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: str
    owner: str
    forward: str
    data: dict[str, Any]
    expires_at: int | None  # HLC microseconds; None: no lease (never lapses)


class SessionLeases:
    """Open, renew, close and look up sessions; `run` renews and collects until cancelled."""

    def __init__(
        self,
        replica: Replica,
        *,
        forward: str,
        ttl: float = 30.0,
        name: str = "sessions",
        clock: HybridLogicalClock | None = None,
    ) -> None:
        self.replica = replica
        self.forward = forward
        self.ttl = ttl
        self.clock = clock or process_clock()
        self.container = replica.container(name, ExpiringMap[str, dict[str, Any]])
        self.held: set[str] = set()  # sessions whose connection this replica holds

    async def open(self, session_id: str, data: dict[str, Any] | None = None) -> None:
        record = {"owner": self.replica.id, "forward": self.forward, "data": data or {}}
        self.held.add(session_id)
        await self.container.update(lambda m: m.set(session_id, record, self.ttl, clock=self.clock))

    async def close(self, session_id: str) -> None:
        """The connection ended: remove the record now rather than letting it lapse."""
        self.held.discard(session_id)
        await self.container.update(lambda m: m.delete(session_id))

    async def renew(self) -> int:
        """Extend the lease of every session this replica holds; how many were renewed."""
        lapsed: list[str] = []

        def renew_all(m: Any) -> None:
            for sid in sorted(self.held):
                if not m.renew(sid, self.ttl, clock=self.clock):
                    lapsed.append(sid)

        if self.held:
            await self.container.update(renew_all)
        for sid in lapsed:  # we were too slow (or paused): the session is gone for everyone
            log.warning("%s: lease of session %s lapsed before renewal", self.replica.id, sid)
            self.held.discard(sid)
        return len(self.held)

    def get(self, session_id: str) -> SessionRecord | None:
        now = hlc_reading(self.clock)
        reg = self.container.local_state().register(session_id)
        if reg is None or not reg.alive(now):
            return None
        value = reg.value_at(now)
        deadline = reg.deadline_at(now)
        return SessionRecord(
            session_id,
            value["owner"],
            value["forward"],
            value["data"],
            deadline or None,
        )

    def sessions(self) -> list[SessionRecord]:
        now = hlc_reading(self.clock)
        ids = sorted(self.container.local_state().value_at(now))
        return [r for sid in ids if (r := self.get(sid)) is not None]

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Renew held leases every `ttl / 3` and collect lapsed records, until cancelled."""
        task_status.started()
        while True:
            await self.renew()
            collect_expired([self.container], self.clock)
            await anyio.sleep(self.ttl / 3)
