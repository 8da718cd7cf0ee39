"""`PresenceHub`: how a replica relays Yjs awareness between its rooms and its peers.

Hubs are wired to each other in process (what the mesh does with sessions), so every frame
between them is counted; expiry runs under trio's autojump clock, so no test waits 30 s.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

import trio

from antientropy.presence import Rooms
from antientropy.yprotocol import AwarenessEntry as E
from transport.presence import PresenceHub


@dataclass
class Wires:
    """Hubs joined by in-process links; `pump` delivers queued frames until none is left."""

    hubs: dict[str, PresenceHub] = field(default_factory=dict)
    queue: deque[tuple[str, str, Rooms]] = field(default_factory=deque)
    frames: int = 0
    delivered: dict[str, list[tuple[str, list[E]]]] = field(default_factory=dict)

    def hub(self, name: str, timeout: float = 30.0) -> PresenceHub:
        hub = self.hubs[name] = PresenceHub(timeout=timeout)
        self.delivered[name] = []
        hub.listen(lambda room, entries: self.delivered[name].append((room, entries)))
        return hub

    def link(self, x: str, y: str) -> None:
        self.hubs[x].add_peer(y, lambda rooms: self.queue.append((y, x, rooms)))
        self.hubs[y].add_peer(x, lambda rooms: self.queue.append((x, y, rooms)))

    def line(self, *names: str) -> list[PresenceHub]:
        """Hubs named `names`, each linked to the next."""
        hubs = [self.hub(name) for name in names]
        for x, y in itertools.pairwise(names):
            self.link(x, y)
        return hubs

    def pump(self, limit: int = 100) -> int:
        """Deliver everything queued; the number of frames (a livelock fails the test)."""
        sent = 0
        while self.queue:
            to, sender, rooms = self.queue.popleft()
            self.hubs[to].receive(sender, rooms)
            sent += 1
            assert sent <= limit, "awareness frames are going round in circles"
        self.frames += sent
        return sent


async def test_in_a_triangle_each_change_crosses_each_link_at_most_once_each_way() -> None:
    wires = Wires()
    a, b, c = wires.hub("a"), wires.hub("b"), wires.hub("c")
    wires.link("a", "b")
    wires.link("b", "c")
    wires.link("c", "a")
    assert wires.pump() == 0  # nothing to tell each other yet
    a.publish("notes", [E(7, 1, {"user": "ann"})])
    # a tells b and c; b and c each tell the other once, which is old news there
    assert wires.pump() == 4
    for hub in (a, b, c):
        assert hub.table.states("notes") == {7: {"user": "ann"}}
    assert wires.delivered["b"] == wires.delivered["c"] == [("notes", [E(7, 1, {"user": "ann"})])]


async def test_an_older_clock_is_neither_applied_nor_relayed() -> None:
    wires = Wires()
    a, b, c = wires.line("a", "b", "c")
    a.publish("notes", [E(7, 5, {"user": "ann"})])
    wires.pump()
    delivered = {name: list(got) for name, got in wires.delivered.items()}
    b.receive("a", {"notes": [E(7, 4, {"user": "stale"}), E(7, 5, {"user": "ann"})]})
    assert wires.pump() == 0  # nothing went on to c (or back to a)
    assert wires.delivered == delivered  # and no Yjs client was told anything
    assert c.table.states("notes") == {7: {"user": "ann"}}


async def test_a_line_carries_states_and_removals_end_to_end() -> None:
    wires = Wires()
    a, _, c = wires.line("a", "b", "c")
    a.publish("notes", [E(7, 1, {"user": "ann"})])
    c.publish("notes", [E(8, 1, {"user": "bob"})])
    wires.pump()
    assert (
        a.table.states("notes")
        == c.table.states("notes")
        == {
            7: {"user": "ann"},
            8: {"user": "bob"},
        }
    )
    a.remove("notes", {7})  # ann's Yjs client disconnected from a
    wires.pump()
    assert c.table.states("notes") == {8: {"user": "bob"}}
    assert wires.delivered["c"][-1] == ("notes", [E(7, 2, None)])


async def test_a_new_peer_is_told_everything_live_once() -> None:
    wires = Wires()
    a, b = wires.hub("a"), wires.hub("b")
    a.publish("notes", [E(7, 1, {"user": "ann"}), E(8, 1, {"user": "bob"})])
    a.remove("notes", {8})
    wires.link("a", "b")
    assert wires.pump() == 1  # a's snapshot; b had nothing to say
    assert b.table.states("notes") == {7: {"user": "ann"}}


async def test_entries_from_a_peer_expire_unless_renewed(autojump_clock: trio.abc.Clock) -> None:
    wires = Wires()
    a, b = wires.hub("a"), wires.hub("b")
    wires.link("a", "b")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(b.run)
        a.publish("notes", [E(7, 1, {"user": "ann"}), E(8, 1, {"user": "bob"})])
        wires.pump()
        await trio.sleep(20)
        a.publish("notes", [E(8, 2, {"user": "bob"})])  # bob's client renews; ann's is gone
        wires.pump()
        await trio.sleep(11)  # 31 s after ann's last renewal, 11 s after bob's
        assert b.table.states("notes") == {8: {"user": "bob"}}
        # b's Yjs clients were told as y-protocols tells a timeout: the same clock, null
        assert wires.delivered["b"][-1] == ("notes", [E(7, 1, None)])
        assert a.table.states("notes") == {7: {"user": "ann"}, 8: {"user": "bob"}}  # its own
        await trio.sleep(20)
        assert b.table.states("notes") == {}
        nursery.cancel_scope.cancel()


def test_a_replica_has_one_hub_and_its_rooms_use_it_by_default() -> None:
    from crdtstate import Replica
    from transport.presence import hub_for
    from transport.yjs import YjsRooms

    a, b = Replica("a"), Replica("b")
    assert hub_for(a) is hub_for(a) is YjsRooms(a, token="t" * 16).presence
    assert hub_for(a) is not hub_for(b)
