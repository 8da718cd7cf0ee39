"""Expiry on the hybrid logical clock, pure: reads, renewals, collection, joins at given times."""

from __future__ import annotations

import pytest

from crdtstate import Replica, codec
from crdtstate.containers.expiry import collect_expired
from crdtstate.errors import InvalidValueError
from crdtstate.types import ExpiringMap, ExpiringRegister
from crdtstate.types.hlc import HybridLogicalClock

pytestmark = pytest.mark.anyio

S = 1_000_000  # microseconds per second: the HLC's unit


class Wall:
    """A settable wall clock in microseconds, for a `HybridLogicalClock`."""

    def __init__(self, seconds: float) -> None:
        self.now = round(seconds * S)

    def __call__(self) -> int:
        return self.now

    def at(self, seconds: float) -> Wall:
        self.now = round(seconds * S)
        return self


def clock_at(seconds: float) -> tuple[Wall, HybridLogicalClock]:
    wall = Wall(seconds)
    return wall, HybridLogicalClock(wall=wall)


def test_an_entry_is_visible_until_its_deadline_and_a_renewal_extends_it() -> None:
    wall, clock = clock_at(100)
    m = ExpiringMap()
    m.apply("s", lambda r: r.assign("v", replica="a", ttl=5, clock=clock))
    assert m.value_at(104 * S) == {"s": "v"}
    assert not m.contains_at("s", 105 * S)  # the deadline itself is past
    wall.at(103)
    m.apply("s", lambda r: r.renew(replica="a", ttl=5, clock=clock))
    assert m.value_at(107 * S) == {"s": "v"}
    assert m.register("s").deadline_at(107 * S) == 108 * S
    assert m.value_at(108 * S) == {}


def test_a_renewal_of_a_lapsed_entry_writes_nothing() -> None:
    wall, clock = clock_at(100)
    reg = ExpiringRegister()
    reg.assign(1, replica="a", ttl=1, clock=clock)
    wall.at(102)
    assert reg.renew(replica="a", ttl=10, clock=clock).is_bottom()
    assert reg.value_at(102 * S) is None


def test_no_ttl_never_lapses_and_bad_ttls_are_refused() -> None:
    _, clock = clock_at(100)
    reg = ExpiringRegister()
    reg.assign("forever", replica="a", clock=clock)
    assert reg.value_at(10**15) == "forever"
    for bad in (0, -1, True, "5"):
        with pytest.raises(InvalidValueError):
            reg.assign("x", replica="a", ttl=bad, clock=clock)  # type: ignore[arg-type]


def test_concurrent_renewals_keep_the_entry_until_the_latest_deadline() -> None:
    _, clock_a = clock_at(100)
    _, clock_b = clock_at(100)
    a, b = ExpiringMap(), ExpiringMap()
    a.apply("s", lambda r: r.assign("v", replica="a", ttl=5, clock=clock_a))
    b.merge(a.copy())
    a.apply("s", lambda r: r.renew(replica="a", ttl=3, clock=clock_a))  # until ~103
    b.apply("s", lambda r: r.renew(replica="b", ttl=20, clock=clock_b))  # until ~120
    a.merge(b.copy())
    b.merge(a.copy())
    assert a == b
    for m in (a, b):
        assert m.value_at(110 * S) == {"s": "v"}
        assert m.value_at(121 * S) == {}


def test_the_newest_live_write_is_the_value() -> None:
    """Concurrent writes are separate leases: when the newest lapses, the other shows."""
    _, clock_a = clock_at(100)
    _, clock_b = clock_at(99)
    a, b = ExpiringRegister(), ExpiringRegister()
    a.assign("short", replica="a", ttl=1, clock=clock_a)
    b.assign("long", replica="b", ttl=50, clock=clock_b)
    a.merge(b)
    assert a.value_at(100 * S) == "short"
    assert a.value_at(102 * S) == "long"


def test_collection_leaves_no_tombstone_and_nothing_lapsed_comes_back() -> None:
    _, clock = clock_at(100)
    a = ExpiringMap()
    a.apply("gone", lambda r: r.assign("x", replica="a", ttl=1, clock=clock))
    a.apply("kept", lambda r: r.assign("y", replica="a", ttl=60, clock=clock))
    stale = a.copy()  # a peer that never collects
    context_before = a.context.copy()
    assert a.collect(105 * S) == 1
    assert a.collect(105 * S) == 0  # idempotent
    assert "gone" not in a.store.entries  # nothing is kept for the key
    assert a.context == context_before  # the context already said the dot was seen
    a.merge(stale.copy())  # the peer's old copy arrives
    assert "gone" not in a.store.entries
    stale.merge(a.copy())  # and the join drops the peer's copy too
    assert stale.value_at(105 * S) == a.value_at(105 * S) == {"kept": "y"}
    assert "gone" not in stale.store.entries


def test_a_write_that_lapsed_before_it_arrived_is_invisible() -> None:
    _, clock = clock_at(100)
    writer, reader = ExpiringMap(), ExpiringMap()
    delta = writer.apply("k", lambda r: r.assign(1, replica="w", ttl=1, clock=clock))
    reader.merge(delta)
    assert reader.value_at(200 * S) == {}
    reader.collect(200 * S)
    assert reader.store.is_empty()


def test_declared_values_are_validated_and_survive_the_codec() -> None:
    _, clock = clock_at(100)
    m = ExpiringMap[str, int]()
    with pytest.raises(InvalidValueError):
        m.apply("k", lambda r: r.assign("not an int", replica="a", ttl=5, clock=clock))
    m.apply("k", lambda r: r.assign(7, replica="a", ttl=5, clock=clock))
    back = codec.decode(codec.encode(m), ExpiringMap[str, int])
    assert back == m and back.value_at(101 * S) == {"k": 7}


async def test_a_container_updates_through_the_handle_and_collects_locally() -> None:
    wall, clock = clock_at(100)
    async with Replica.open("a") as replica:
        sessions = replica.container("sessions", ExpiringMap)
        await sessions.update(lambda m: m.set("s1", {"owner": "a"}, ttl=2, clock=clock))
        await sessions.update(lambda m: m.set("s2", {"owner": "a"}, ttl=9, clock=clock))
        wall.at(101)
        renewed = await sessions.update(lambda m: m.renew("s1", 5, clock=clock))
        assert renewed == {}  # `value` reads the process clock: decades after t = 100 s
        state = sessions.local_state()
        assert state.value_at(105 * S) == {"s1": {"owner": "a"}, "s2": {"owner": "a"}}
        wall.at(107)
        assert collect_expired([sessions], clock) == 1
        assert state.value_at(107 * S) == {"s2": {"owner": "a"}}
        outcomes: list[bool] = []
        await sessions.update(lambda m: outcomes.append(m.renew("s1", 5, clock=clock)))
        assert outcomes == [False]
        await sessions.update(lambda m: m.delete("s2"))
        assert state.value_at(107 * S) == {}
