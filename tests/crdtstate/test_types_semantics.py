"""The behaviours the literature uses to tell CRDT designs apart, one scenario each."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from crdtstate import InvalidValueError, codec
from crdtstate.types import (
    AWSet,
    DWFlag,
    EWFlag,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORMap,
    PNCounter,
    RWSet,
)
from crdtstate.types.hlc import HybridLogicalClock


def synced(cls, *deltas):
    state = cls()
    for d in deltas:
        state.merge(d)
    return state


@pytest.mark.parametrize(("cls", "survives"), [(AWSet, True), (RWSet, False)])
def test_concurrent_add_and_remove_add_wins_in_awset_remove_wins_in_rwset(cls, survives) -> None:
    a = cls()
    a.add("x", replica="a")
    b = a.copy()
    re_add = a.add("x", replica="a")  # concurrent with b's remove
    removal = b.remove("x", replica="b")
    a.merge(removal)
    b.merge(re_add)
    assert a == b
    assert ("x" in a.value) is survives


def test_rwset_add_after_seeing_a_remove_brings_the_element_back() -> None:
    s = RWSet()
    s.add(1, replica="a")
    s.remove(1, replica="b")
    assert s.value == frozenset()
    s.add(1, replica="a")
    assert s.value == {1}


def test_gset_only_grows() -> None:
    s = GSet.of([1, 2], replica="a")
    t = GSet.of([2, 3], replica="b")
    s.merge(t)
    assert s.value == {1, 2, 3}
    assert s.add(1, replica="a").is_bottom()


@pytest.mark.parametrize(("cls", "winner"), [(EWFlag, True), (DWFlag, False)])
def test_concurrent_enable_and_disable(cls, winner) -> None:
    a = cls()
    a.enable(replica="a")
    b = a.copy()
    a.merge(b.copy())
    on = a.enable(replica="a")
    off = b.disable(replica="b")
    a.merge(off)
    b.merge(on)
    assert a == b
    assert a.value is winner


@pytest.mark.parametrize("cls", [EWFlag, DWFlag])
def test_flags_start_off_and_follow_causally_ordered_writes(cls) -> None:
    f = cls()
    assert f.value is False
    f.enable(replica="a")
    assert f.value is True
    f.disable(replica="b")
    assert f.value is False
    f.enable(replica="c")
    assert f.value is True


def test_mvregister_keeps_concurrent_values_and_one_after_a_later_write() -> None:
    a, b = MVRegister(), MVRegister()
    da = a.assign("left", replica="a")
    db = b.assign("right", replica="b")
    a.merge(db)
    b.merge(da)
    assert set(a.value) == {"left", "right"} and a == b
    later = a.assign("both seen", replica="a")
    b.merge(later)
    assert b.value == ("both seen",)


def test_lww_register_a_write_that_saw_another_wins_even_with_a_slow_clock() -> None:
    fast = HybridLogicalClock(wall=lambda: 1_000_000)
    slow = HybridLogicalClock(wall=lambda: 5)
    a, b = LWWRegister(), LWWRegister()
    b.merge(a.assign("first", replica="a", clock=fast))
    b.assign("second", replica="b", clock=slow)
    assert b.value == "second"
    a.merge(b)
    assert a.value == "second"


def test_lww_concurrent_writes_resolve_by_timestamp_then_replica_id() -> None:
    frozen = 1000
    a, b = LWWRegister(), LWWRegister()
    da = a.assign("from a", replica="a", clock=HybridLogicalClock(wall=lambda: frozen))
    db = b.assign("from b", replica="b", clock=HybridLogicalClock(wall=lambda: frozen))
    assert a.timestamp[:2] == b.timestamp[:2]  # a tie on (l, c)
    a.merge(db)
    b.merge(da)
    assert a == b and a.value == "from b"  # "b" > "a"


def test_ormap_remove_is_an_observed_reset_and_a_concurrent_increment_survives() -> None:
    a = ORMap[str, PNCounter]()
    a.apply("hits", lambda c: c.increment(5, replica="a"))
    b = a.copy()
    removal = b.remove("hits", replica="b")
    increment = a.apply("hits", lambda c: c.increment(1, replica="a"))
    a.merge(removal)
    b.merge(increment)
    assert a == b
    assert "hits" in a.value  # the unobserved increment keeps the key
    assert a.value["hits"] >= 1


def test_ormap_observed_reset_starts_a_counter_from_zero() -> None:
    a = ORMap[str, PNCounter]()
    a.apply("hits", lambda c: c.increment(5, replica="a"))
    b = a.copy()
    a.merge(b.remove("hits", replica="b"))
    assert a.value == {}
    a.apply("hits", lambda c: c.increment(2, replica="a"))
    assert a.value == {"hits": 2}


def test_ormap_concurrent_updates_under_one_key_merge_their_values() -> None:
    a = ORMap[str, ORMap[str, AWSet]]()
    b = ORMap[str, ORMap[str, AWSet]]()
    da = a.apply("s", lambda m: m.apply("x", lambda s: s.add(1, replica="a")))
    db = b.apply("s", lambda m: m.apply("x", lambda s: s.add(2, replica="b")))
    a.merge(db)
    b.merge(da)
    assert a == b and a.value == {"s": {"x": frozenset({1, 2})}}


def test_ormap_removed_nested_map_keeps_only_concurrent_inner_updates() -> None:
    a = ORMap[str, ORMap[str, GCounter]]()
    a.apply("s", lambda m: m.apply("old", lambda c: c.increment(3, replica="a")))
    b = a.copy()
    removal = b.remove("s", replica="b")
    fresh = a.apply("s", lambda m: m.apply("new", lambda c: c.increment(1, replica="a")))
    a.merge(removal)
    b.merge(fresh)
    assert a == b and a.value == {"s": {"new": 1}}


def test_declaring_the_value_kind_two_ways_gives_the_same_class() -> None:
    assert type(ORMap(value=PNCounter)) is ORMap[Any, PNCounter]
    assert ORMap[str, PNCounter] is ORMap[str, PNCounter]
    assert type(ORMap(key=str, value=PNCounter)) is ORMap[str, PNCounter]


class Config(BaseModel):
    host: str
    port: int


def test_declared_register_values_are_validated_on_assignment_and_on_decoding() -> None:
    r = LWWRegister[Config]()
    r.assign({"host": "h", "port": 1}, replica="a")
    assert r.value == Config(host="h", port=1)
    with pytest.raises(InvalidValueError):
        r.assign({"host": "h", "port": "not a port"}, replica="a")
    assert r.value == Config(host="h", port=1)  # the invalid value never entered
    bad = LWWRegister()
    bad.assign({"host": "h"}, replica="b")
    with pytest.raises(codec.DecodeError):
        codec.decode(codec.encode(bad), LWWRegister[Config])
    assert codec.decode(codec.encode(r), LWWRegister[Config]) == r


def test_declared_map_keys_and_values_are_validated() -> None:
    m = ORMap[str, int]()
    with pytest.raises(InvalidValueError):
        m.apply(1, lambda r: r.assign(1, replica="a"))
    with pytest.raises(InvalidValueError):
        m.apply("k", lambda r: r.assign("one", replica="a"))
    assert m.is_bottom()
    loose = ORMap()
    loose.apply("k", lambda r: r.assign("one", replica="a"))
    with pytest.raises(codec.DecodeError):
        codec.decode(codec.encode(loose), ORMap[str, int])
    with pytest.raises(codec.DecodeError):
        codec.decode(codec.encode(loose), ORMap[str, PNCounter])


def test_undeclared_values_must_be_plain_data_and_come_back_as_a_peer_sees_them() -> None:
    r = LWWRegister()
    r.assign((1, 2), replica="a")
    assert r.value == [1, 2]  # what every peer decodes: equal values everywhere
    with pytest.raises(InvalidValueError):
        r.assign(object(), replica="a")
    with pytest.raises(InvalidValueError):
        r.assign({1: "int keys do not survive msgpack"}, replica="a")


def test_a_gcounter_in_a_map_refuses_to_decrement() -> None:
    m = ORMap[str, GCounter]()
    with pytest.raises(InvalidValueError):
        m.apply("k", lambda c: c.decrement(1, replica="a"))
    assert m.is_bottom()
