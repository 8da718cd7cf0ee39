"""The key-value face, session leases and rate limits on one replica, with an injected clock
(the replicated behaviour is in tests/transport/test_shared_state.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crdtstate import InvalidValueError, Replica
from crdtstate.recipes.kv import KeyValueStore
from crdtstate.recipes.leases import SessionLeases
from crdtstate.recipes.ratelimit import QuotaLimiter, WindowLimiter
from crdtstate.types.hlc import HybridLogicalClock

pytestmark = pytest.mark.anyio

S = 1_000_000


class Wall:
    def __init__(self, seconds: float) -> None:
        self.now = round(seconds * S)

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * S)


async def test_kv_get_set_delete_exists_with_ttl() -> None:
    wall = Wall(100)
    async with Replica.open("a") as replica:  # the memory backend
        kv = KeyValueStore(replica, clock=HybridLogicalClock(wall=wall))
        assert await kv.get("missing") is None and not await kv.exists("missing")
        await kv.set("counter", (1).to_bytes(8, "little"))
        await kv.set("session:1", b'{"user": "u"}', ttl=3600)
        await kv.set("cache:x", b"v", ttl=300)
        assert await kv.get("counter") == (1).to_bytes(8, "little")
        assert await kv.keys() == ["cache:x", "counter", "session:1"]
        wall.advance(301)
        assert not await kv.exists("cache:x") and await kv.get("cache:x") is None
        await kv.set("cache:x", b"w", ttl=300)  # a set after expiry starts afresh
        assert await kv.get("cache:x") == b"w"
        await kv.delete("counter")
        await kv.delete("never-there")
        assert not await kv.exists("counter")
        wall.advance(3600)
        assert await kv.keys() == []
        with pytest.raises(InvalidValueError):
            await kv.set("k", "not bytes")  # type: ignore[arg-type]


async def test_kv_on_the_sqlite_backend_survives_a_reopen(tmp_path) -> None:
    """The same face over a durable replica: what was set (and not expired) is there after a
    reopen, and a deleted or expired key stays gone."""
    wall = Wall(100)
    path = tmp_path / "kv.db"
    async with Replica.open("a", path) as replica:
        kv = KeyValueStore(replica, clock=HybridLogicalClock(wall=wall))
        await kv.set("config:mode", b"fast")
        await kv.set("session:1", b"s", ttl=60)
        await kv.set("gone", b"x")
        await kv.delete("gone")
    async with Replica.open(path=path) as replica:
        kv = KeyValueStore(replica, clock=HybridLogicalClock(wall=wall))
        assert await kv.get("config:mode") == b"fast"
        assert await kv.exists("session:1")
        assert not await kv.exists("gone")
        wall.advance(61)
        assert not await kv.exists("session:1")
        assert await kv.keys() == ["config:mode"]


async def test_a_lease_lives_while_renewed_and_lapses_without_its_owner() -> None:
    wall = Wall(100)
    clock = HybridLogicalClock(wall=wall)
    async with Replica.open("a") as replica:
        leases = SessionLeases(replica, forward="http://a:8000/mcp", ttl=3, clock=clock)
        await leases.open("s1", {"client": "c1"})
        record = leases.get("s1")
        assert record is not None
        assert (record.owner, record.forward, record.data) == (
            "a",
            "http://a:8000/mcp",
            {"client": "c1"},
        )
        for _ in range(5):
            wall.advance(2)
            assert await leases.renew() == 1
        assert [r.session_id for r in leases.sessions()] == ["s1"]
        leases.held.clear()  # the owner stops renewing (as if it died)
        wall.advance(3)
        assert leases.get("s1") is None and leases.sessions() == []
        await leases.open("s2")
        await leases.close("s2")
        assert leases.get("s2") is None


async def test_window_limiter_counts_per_client_and_window() -> None:
    wall = Wall(100)
    async with Replica.open("a") as replica:
        limiter = WindowLimiter(replica, limit=2, window=10, clock=HybridLogicalClock(wall=wall))
        assert [await limiter.hit("c1") for _ in range(3)] == [True, True, False]
        assert await limiter.hit("c2")
        wall.advance(10)
        assert await limiter.hit("c1") and await limiter.count("c1") == 1
        assert len(await limiter.container.get()) == 2  # c1's old window was dropped


async def test_quota_limiter_spends_its_share_then_refuses_at_the_cap(tmp_path: Path) -> None:
    wall = Wall(100)
    async with Replica.open("a", tmp_path / "a.db") as replica:
        quota = QuotaLimiter(
            replica, cap=3, window=60, members=["a"], clock=HybridLogicalClock(wall=wall)
        )
        assert [await quota.acquire("c1") for _ in range(4)] == [True, True, True, False]
        assert await quota.remaining("c1") == 0
        wall.advance(60)
        assert await quota.remaining("c1") == 3 and await quota.acquire("c1")


async def test_quota_share_is_minted_once_per_window_across_restarts_of_a_durable_member(
    tmp_path: Path,
) -> None:
    wall = Wall(100)
    for expected in ([True, True], [True, False]):
        async with Replica.open("a", tmp_path / "a.db") as replica:
            clock = HybridLogicalClock(wall=wall)
            quota = QuotaLimiter(replica, cap=3, window=60, members=["a"], clock=clock)
            assert [await quota.acquire("c1") for _ in range(2)] == expected


async def test_a_member_restarted_in_memory_spends_no_share_in_the_window_it_started_in() -> None:
    """An in-memory run cannot know what an earlier run of its id spent: in the window it
    starts in it mints nothing (it may be granted rights), so a restart cut off from its peers
    never takes the cap past its limit; from the next window it has its share."""
    wall = Wall(100)  # window 2
    members = ["a", "b"]  # cap 4: a share of 2 each

    def limiter(replica: Replica) -> QuotaLimiter:
        return QuotaLimiter(
            replica, cap=4, window=60, members=members, clock=HybridLogicalClock(wall=wall)
        )

    async with Replica.open("b") as b:
        qb = limiter(b)
        wall.advance(20)  # window 3: a and b started before it, so both mint their share
        async with Replica.open("a") as a:
            qa = limiter(a)
            wall.advance(60)  # window 4
            assert [await qa.acquire("c1") for _ in range(3)] == [True, True, False]
            await sync_both(a, b)  # a's spends reached b before a was killed
        async with Replica.open("a") as restarted:  # the same id, cut off, same window
            qr = limiter(restarted)
            assert not await qr.acquire("c1")  # no share to spend here
            assert [await qb.acquire("c1") for _ in range(3)] == [True, True, False]
            await sync_both(restarted, b)
            spent = restarted.snapshot("quota/c1")
            assert spent is not None and sum(spent.spent.values()) == 4 == qb.cap
            assert await qr.remaining("c1") == 0 == await qb.remaining("c1")
            wall.advance(60)  # window 5, which began after the restart: a's share is back
            assert [await qr.acquire("c1") for _ in range(3)] == [True, True, False]


async def sync_both(x: Replica, y: Replica) -> None:
    await y.apply_remote(x.deltas_since(y.object_digests()), x.id)
    await x.apply_remote(y.deltas_since(x.object_digests()), y.id)
