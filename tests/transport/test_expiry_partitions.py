"""Expiry across replicas under partitions and clock skew, with anti-entropy sessions pumped by
hand (deterministic: no sockets, no sleeping) and each replica on its own skewed HLC."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from antientropy import DeltasReceived, PeerSession
from crdtstate import Replica
from crdtstate.containers.expiry import collect_expired
from crdtstate.types import ExpiringMap
from crdtstate.types.hlc import HybridLogicalClock

pytestmark = pytest.mark.anyio

S = 1_000_000
SKEW = {"a": 0.0, "b": +2.0, "c": -1.0}  # seconds each replica's wall clock is off by


class Node:
    """A replica, its `ExpiringMap`, and a wall clock `SKEW` seconds off the shared time."""

    def __init__(self, replica: Replica, world: World) -> None:
        self.replica = replica
        self.world = world
        self.clock = HybridLogicalClock(wall=lambda: round((world.t + SKEW[replica.id]) * S))
        self.map = replica.container("leases", ExpiringMap)

    def now(self) -> int:
        return max(self.clock.wall(), self.clock.l)

    def view(self) -> dict[Any, Any]:
        return self.map.local_state().value_at(self.now())

    async def update(self, step: Callable[[Any], Any]) -> None:
        await self.map.update(step)

    def collect(self) -> int:
        return collect_expired([self.map], self.clock)


class World:
    """Shared time `t` (seconds) and links that deliver only when pumped."""

    def __init__(self) -> None:
        self.t = 100.0
        self.nodes: dict[str, Node] = {}
        self.links: dict[frozenset[str], tuple[PeerSession, PeerSession]] = {}

    def connect(self, x: str, y: str) -> None:
        """A fresh session pair: it starts with a digest exchange, as after a reconnect."""
        rx, ry = self.nodes[x].replica, self.nodes[y].replica
        self.links[frozenset((x, y))] = (
            PeerSession(rx, nonce=f"{x}->{y}".encode().ljust(32, b".")),
            PeerSession(ry, nonce=f"{y}->{x}".encode().ljust(32, b".")),
        )

    def cut(self, x: str, y: str) -> None:
        self.links.pop(frozenset((x, y)), None)

    async def pump(self) -> None:
        """Deliver every frame on every live link until all are quiet."""
        busy = True
        while busy:
            busy = False
            for sx, sy in self.links.values():
                for src, dst in ((sx, sy), (sy, sx)):
                    for frame in src.data_to_send(self.t):
                        busy = True
                        for event in dst.receive_data(frame, self.t):
                            if isinstance(event, DeltasReceived):
                                target = self.nodes[dst.source.id].replica
                                await target.apply_remote(event.deltas, origin=src.source.id)
                                dst.acknowledge(event.upto)


@asynccontextmanager
async def world() -> AsyncIterator[World]:
    w = World()
    async with Replica.open("a") as a, Replica.open("b") as b, Replica.open("c") as c:
        for r in (a, b, c):
            w.nodes[r.id] = Node(r, w)
        for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
            w.connect(x, y)
        await w.pump()
        yield w


def partition(w: World, *sides: set[str]) -> None:
    for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
        if not any({x, y} <= side for side in sides):
            w.cut(x, y)


async def heal(w: World) -> None:
    for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
        if frozenset((x, y)) not in w.links:
            w.connect(x, y)
    await w.pump()


async def test_an_entry_expires_on_every_replica_within_the_skew() -> None:
    async with world() as w:
        a, b, c = (w.nodes[i] for i in "abc")
        await a.update(lambda m: m.set("s", "a-owned", ttl=5, clock=a.clock))
        await w.pump()
        assert [n.view() for n in (a, b, c)] == [{"s": "a-owned"}] * 3
        w.t = 103.5  # b's clock (+2 s) is past the deadline (105), a's and c's are not
        assert (a.view(), b.view(), c.view()) == ({"s": "a-owned"}, {}, {"s": "a-owned"})
        w.t = 106.5  # everyone's clock, even c's (-1 s), is past it
        assert [n.view() for n in (a, b, c)] == [{}] * 3
        assert [n.collect() for n in (a, b, c)] == [1, 1, 1]
        await w.pump()
        assert len({n.replica.digest() for n in (a, b, c)}) == 1


async def test_renewals_on_either_side_of_a_partition_win() -> None:
    async with world() as w:
        a, b, c = (w.nodes[i] for i in "abc")
        for key in ("x", "y"):
            await a.update(lambda m, key=key: m.set(key, key.upper(), ttl=5, clock=a.clock))
        await w.pump()
        partition(w, {"a"}, {"b", "c"})

        w.t = 102.0
        await a.update(lambda m: m.renew("x", 10, clock=a.clock))  # a's side: x until ~112
        await c.update(lambda m: m.renew("x", 20, clock=c.clock))  # c's side: x until ~121
        await b.update(lambda m: m.renew("y", 10, clock=b.clock))  # only b's side renews y
        await w.pump()
        w.t = 106.0
        assert a.view() == {"x": "X"}  # y lapsed for a, which never saw b's renewal
        assert a.collect() == 1
        assert b.view() == c.view() == {"x": "X", "y": "Y"}

        await heal(w)
        w.t = 110.0
        assert [n.view() for n in (a, b, c)] == [{"x": "X", "y": "Y"}] * 3  # b's renewal won
        w.t = 116.0  # past a's renewal of x and b's of y; c's renewal of x still holds
        assert [n.view() for n in (a, b, c)] == [{"x": "X"}] * 3
        w.t = 125.0
        assert [n.view() for n in (a, b, c)] == [{}] * 3


async def test_nothing_expired_comes_back_after_the_heal() -> None:
    async with world() as w:
        a, b, c = (w.nodes[i] for i in "abc")
        await a.update(lambda m: m.set("old", 1, ttl=3, clock=a.clock))
        await w.pump()
        partition(w, {"a"}, {"b", "c"})
        await c.update(lambda m: m.set("brief", 2, ttl=1, clock=c.clock))  # lapses unseen by a
        await w.pump()
        w.t = 105.0
        assert a.collect() == 1  # a drops "old"; b and c still hold their copies
        assert [n.view() for n in (a, b, c)] == [{}] * 3

        await heal(w)  # new sessions: digests exchanged, b and c offer what a lacks
        assert [n.view() for n in (a, b, c)] == [{}] * 3
        assert "old" not in a.map.local_state().store.entries  # not brought back
        # b still holds its lapsed copy (invisible) until it collects: collection is local.
        for n in (a, b, c):
            n.collect()
        await w.pump()
        assert [n.view() for n in (a, b, c)] == [{}] * 3
        assert len({n.replica.digest() for n in (a, b, c)}) == 1
        assert all(n.map.local_state().store.is_empty() for n in (a, b, c))
