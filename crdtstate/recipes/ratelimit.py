"""Rate limits shared by replicas, soft and hard, with no coordination on the request path.

`WindowLimiter` (soft): a causal counter per (client, window) in a replicated map. A replica
admits a request while the count it sees is under the limit. It cannot see requests admitted
elsewhere that have not reached it yet, so the count may overshoot: by at most the requests
the other replicas admitted during one sync delay (with k replicas each admitting r requests
a second and a delay d, at most (k - 1) * r * d per window; on a LAN d is milliseconds). A
partition lets each side admit up to the limit, since neither sees the other.

`QuotaLimiter` (hard): a `BoundedCounter` per client whose epoch is the window. Each member
replica mints its fixed share of the cap the first time it needs it in a window (idempotent),
spends only rights it holds, and asks the others when it runs out; `run_grants` hands spare
rights to replicas that asked. The cap is never exceeded, under any partition; the price is
that a replica without rights refuses (or waits up to `wait` seconds for a grant) even while
others hold unused rights.

Rights belong to the replica's writer name (`Replica.writer`). A durable replica keeps its
minted and spent counts across restarts, so it mints its share once per window. A replica kept
in memory forgets them: a restart with the same id cannot know what its earlier run spent, so
it mints its share only from the first window that begins after it started, and serves the
window it started in from grants (a cluster started in memory has no rights in its first
window: give members a database for the quota to hold across restarts from the start).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import anyio
import anyio.abc

from ..containers.expiry import hlc_reading
from ..replica import Replica
from ..types import ORMap, PNCounter
from ..types.bounded import BoundedCounter
from ..types.hlc import HybridLogicalClock, process_clock

log = logging.getLogger(__name__)
S = 1_000_000


def window_of(clock: HybridLogicalClock, window: float) -> int:
    """The index of the current window (>= 1) on the clock's time."""
    return int(hlc_reading(clock) // round(window * S)) + 1


class WindowLimiter:
    def __init__(
        self,
        replica: Replica,
        *,
        limit: int,
        window: float,
        name: str = "ratelimit/windows",
        clock: HybridLogicalClock | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock or process_clock()
        self.container = replica.container(name, ORMap[str, PNCounter])

    async def hit(self, client: str) -> bool:
        """Count a request of `client` if the window has room; whether it was admitted."""
        current = window_of(self.clock, self.window)
        key = f"{client}@{current}"
        admitted: list[bool] = []

        def step(m: Any) -> None:
            for old in [k for k in m if k.startswith(f"{client}@") and k != key]:
                del m[old]  # past windows of this client: nobody reads them again
            count = m[key].value if key in m else 0
            admitted.append(count < self.limit)
            if admitted[0]:
                m[key].increment(1)

        await self.container.update(step)
        return admitted[0]

    async def count(self, client: str) -> int:
        key = f"{client}@{window_of(self.clock, self.window)}"
        return (await self.container.get()).get(key, 0)


class QuotaLimiter:
    def __init__(
        self,
        replica: Replica,
        *,
        cap: int,
        window: float,
        members: list[str],
        prefix: str = "quota/",
        clock: HybridLogicalClock | None = None,
    ) -> None:
        self.replica = replica
        self.cap = cap
        self.window = window
        self.members = sorted(members)
        self.prefix = prefix
        self.clock = clock or process_clock()
        # The first window in which this run may mint its share (see the module docstring).
        self.first_minting_window = 0 if replica.durable else window_of(self.clock, self.window) + 1

    def share(self, replica_id: str) -> int:
        """This member's part of the cap (0 for a non-member, which only receives grants)."""
        if replica_id not in self.members:
            return 0
        n, i = len(self.members), self.members.index(replica_id)
        return self.cap // n + (1 if i < self.cap % n else 0)

    def counter(self, client: str) -> Any:
        return self.replica.container(self.prefix + client, BoundedCounter)

    def _enter_window(self, q: Any) -> None:
        """Move to the current window (unless a faster clock already has) and mint our share,
        unless an earlier run of this replica id may have minted it (see the module docstring)."""
        q.advance(window_of(self.clock, self.window))
        if q.state.epoch >= self.first_minting_window:
            q.mint_up_to(self.share(self.replica.id))

    async def acquire(self, client: str, n: int = 1, *, wait: float = 0.0) -> bool:
        """Spend `n` of `client`'s quota here. With local rights this is one local update;
        without, ask the other replicas and wait up to `wait` seconds for a grant. False when
        the window's cap is used up (as far as this replica knows) or no grant came."""
        container = self.counter(client)
        deadline = anyio.current_time() + wait
        async with container.subscribe() as changes:
            while True:
                outcome = await self._try_acquire(container, n)
                if outcome is not None:
                    return outcome
                with anyio.CancelScope(deadline=deadline):
                    await changes.__anext__()
                    continue
                return False

    async def _try_acquire(self, container: Any, n: int) -> bool | None:
        """One local attempt: True (spent), False (cap used up), None (asked for rights)."""
        outcome: list[bool] = []

        def step(q: Any) -> None:
            self._enter_window(q)
            if q.try_spend(n):
                outcome.append(True)
            elif self.cap - sum(q.state.spent.values()) < n:
                outcome.append(False)  # nothing left to wait for
            else:
                q.request(n - q.rights)

        await container.update(step)
        return outcome[0] if outcome else None

    async def remaining(self, client: str) -> int:
        """What is left of the cap in the current window, as far as this replica knows."""
        state = self.counter(client).local_state()
        if state.epoch < window_of(self.clock, self.window):
            return self.cap
        return self.cap - sum(state.spent.values())

    async def grant_once(self) -> int:
        """Give spare rights to every replica that asked, for every client; rights given."""
        made = 0
        me = self.replica.writer
        for name in self.replica.names():
            if not name.startswith(self.prefix):
                continue
            container = self.replica.container(name, BoundedCounter)
            state = container.local_state()
            if not any(state.outstanding(r) for r in state.wanted if r != me):
                continue

            def step(q: Any) -> None:
                nonlocal made
                self._enter_window(q)
                before = q.state.sent(me)
                q.grant()
                made += q.state.sent(me) - before

            await container.update(step)
        return made

    async def run_grants(
        self,
        interval: float = 0.05,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Grant every `interval` seconds until cancelled."""
        task_status.started()
        while True:
            await self.grant_once()
            await anyio.sleep(interval if math.isfinite(interval) else 1.0)
