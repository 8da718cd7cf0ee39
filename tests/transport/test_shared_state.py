"""Leases, registries and the hard quota across three replicas on real loopback websockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from crdtstate import Replica
from crdtstate.recipes.leases import SessionLeases
from crdtstate.recipes.ratelimit import QuotaLimiter
from crdtstate.recipes.registry import Registry
from transport import open_mesh

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def three(directory: Path | None = None) -> AsyncIterator[tuple[Replica, Replica, Replica]]:
    """Replicas a, b, c in a mesh: in memory, or in databases in `directory`."""
    paths = [directory / f"{r}.db" if directory else None for r in "abc"]
    async with (
        Replica.open("a", paths[0]) as a,
        Replica.open("b", paths[1]) as b,
        Replica.open("c", paths[2]) as c,
    ):
        async with (
            open_mesh(a) as ma,
            open_mesh(b, peers=[ma.url]) as mb,
            open_mesh(c, peers=[ma.url, mb.url]) as mc,
        ):
            with anyio.fail_after(10):
                for mesh in (ma, mb, mc):
                    await mesh.wait_for_peers(2)
            yield a, b, c


async def eventually(check: Any, timeout: float = 10) -> None:
    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.01)


async def test_the_quota_is_shared_and_rights_flow_to_the_replica_serving_requests(
    tmp_path: Path,
) -> None:
    # Durable members: one kept in memory has no share in the window it starts in.
    async with three(tmp_path) as (a, b, c), anyio.create_task_group() as nursery:
        limiters = [QuotaLimiter(r, cap=6, window=3600, members=["a", "b", "c"]) for r in (a, b, c)]
        for limiter in limiters:
            await nursery.start(limiter.run_grants, 0.01)
        qa, qb, qc = limiters
        # a's share is 2: the other four come from b's and c's shares, granted on request.
        assert [await qa.acquire("client-1", wait=10) for _ in range(4)] == [True] * 4
        assert [await qb.acquire("client-1", wait=10) for _ in range(2)] == [True] * 2
        assert not await qc.acquire("client-1", wait=10)  # used up: refused, never over
        await eventually(lambda: _all_equal([q.remaining("client-1") for q in limiters], 0))
        assert await qa.acquire("client-2")  # another client has its own quota
        nursery.cancel_scope.cancel()


async def _all_equal(values: list[Any], expected: Any) -> bool:
    return all([await v == expected for v in values])


async def test_a_registration_on_one_replica_is_listed_and_announced_on_the_others() -> None:
    async with three() as (a, b, c), anyio.create_task_group() as nursery:
        seen: list[tuple[list[str], str]] = []
        announced = anyio.Event()

        async def on_change(entries: dict[str, Any], origin: str) -> None:
            seen.append((sorted(entries), origin))
            announced.set()

        nursery.start_soon(lambda: Registry(b, "tools").watch(on_change, remote_only=True))
        await anyio.wait_all_tasks_blocked()  # the watcher is subscribed
        await Registry(a, "tools").register("search", {"description": "find things"})
        with anyio.fail_after(10):
            await announced.wait()
        assert seen == [(["search"], "a")]
        await eventually(lambda: _has(Registry(c, "tools"), "search"))
        nursery.cancel_scope.cancel()


async def _has(registry: Registry, name: str) -> bool:
    return name in await registry.entries()


async def test_a_session_lease_is_seen_everywhere_and_lapses_when_its_owner_stops() -> None:
    async with three() as (a, b, c):
        leases = {r.id: SessionLeases(r, forward=f"http://{r.id}/mcp", ttl=0.6) for r in (a, b, c)}
        async with anyio.create_task_group() as owner:
            await owner.start(leases["a"].run)
            await leases["a"].open("s1", {"client": "k"})
            await eventually(lambda: _owner(leases["c"], "s1", "a"))
            first = leases["c"].get("s1").expires_at  # type: ignore[union-attr]
            # Renewals carry it past its first deadline, and c sees them.
            await eventually(lambda: _expires_after(leases["c"], "s1", first + 600_000))
            owner.cancel_scope.cancel()  # a stops renewing, as if it had died
        await eventually(lambda: _gone(leases, "s1"))


async def _owner(leases: SessionLeases, sid: str, owner: str) -> bool:
    record = leases.get(sid)
    return record is not None and record.owner == owner and record.forward == f"http://{owner}/mcp"


async def _expires_after(leases: SessionLeases, sid: str, deadline: int) -> bool:
    record = leases.get(sid)
    assert record is not None, "the lease lapsed while its owner was renewing it"
    return record.expires_at is not None and record.expires_at > deadline


async def _gone(leases: dict[str, SessionLeases], sid: str) -> bool:
    return all(lease.get(sid) is None for lease in leases.values())
