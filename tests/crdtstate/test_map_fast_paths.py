"""The map put fast path (`ORMap.put`, `MapHandle`'s `m[k] = v`) and the lazy map value.

A put of a plain value skips the general route (`apply` with a register handle, `adopt`),
so these properties replay random histories both ways, with clocks that read the same fake
wall, and require equal states and equal deltas at every step. The lazy value returned by
`update` must stand for the state it was handed out for, however late it is looked at.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from crdtstate import ORMap, Replica, codec
from crdtstate.containers.maphandle import MapHandle
from crdtstate.errors import InvalidValueError
from crdtstate.replica_state import ReplicaState
from crdtstate.types import LWWRegister, PNCounter, hlc
from crdtstate.types.hlc import HybridLogicalClock
from crdtstate.types.snapshots import MapSnapshot

pytestmark = pytest.mark.anyio

SAME = settings(max_examples=60, deadline=None, derandomize=True)
REPLICAS = ("r1", "r2")


class Session(BaseModel):
    user: str
    expires: float


SESSIONS = ORMap[str, Session]

steps = st.lists(
    st.tuples(
        st.sampled_from(["put", "put", "put", "remove", "merge", "bad"]),
        st.sampled_from(REPLICAS),
        st.sampled_from("abcd"),
        st.integers(0, 3),
    ),
    max_size=30,
)


def stepping_wall(readings: list[int], ahead: int) -> Iterator[int]:
    """A wall clock that sometimes stands still or runs back (so stamps exercise `c`)."""
    for i, step in enumerate(readings * 100):
        yield 1_000 + ahead + i - 3 * step


def clocks(readings: list[int], ahead: int = 0) -> tuple[HybridLogicalClock, HybridLogicalClock]:
    """Two clocks reading the same wall: one for each route."""
    walls = stepping_wall(readings, ahead), stepping_wall(readings, ahead)
    return HybridLogicalClock(lambda: next(walls[0])), HybridLogicalClock(lambda: next(walls[1]))


def general_assign(
    register: LWWRegister, value: Any, replica: str, clock: HybridLogicalClock
) -> LWWRegister:
    """A register write the general way: `now` or `update` for a `Timestamp`, then `_write`
    (what `LWWRegister.assign` did before `overwrite`)."""
    stored = register.value_spec.check(value)
    won = register._winner()
    stamp = clock.now(replica) if won is None else clock.update(won[1], replica)
    return register._write((stamp.l, stamp.c, stored), replica)


@SAME
@given(steps=steps, readings=st.lists(st.integers(0, 2), min_size=1, max_size=5))
def test_put_is_apply_with_assign(steps: list[Any], readings: list[int]) -> None:
    # each replica its own clock, r2's wall ahead: a write over a merged one must pass it
    pairs = {r: clocks(readings, ahead=20 * i) for i, r in enumerate(REPLICAS)}
    fast = {r: SESSIONS() for r in REPLICAS}
    slow = {r: SESSIONS() for r in REPLICAS}
    unread: list[tuple[Any, Any]] = []  # (lazy put delta, the general one): read at the end
    for op, replica, key, n in steps:
        value = Session(user=f"{replica}-{n}", expires=n)
        fast_clock, slow_clock = pairs[replica]
        if op == "put":
            got = fast[replica].put(key, value, replica=replica, clock=fast_clock)
            assert not got.is_bottom()  # answered without building it
            want = slow[replica].apply(
                key, lambda r, v=value, w=replica, c=slow_clock: general_assign(r, v, w, c)
            )
            unread.append((got, want.copy()))  # compared at the end, built only then
            got = want = None
        elif op == "bad":  # refused before anything changes, both ways
            with pytest.raises(InvalidValueError):
                fast[replica].put(key, {"user": 1}, replica=replica, clock=fast_clock)
            with pytest.raises(InvalidValueError):
                slow[replica].apply(
                    key, lambda r, w=replica, c=slow_clock: general_assign(r, {"user": 1}, w, c)
                )
            continue
        elif op == "remove":
            got = fast[replica].remove(key, replica=replica)
            want = slow[replica].remove(key, replica=replica)
        else:
            other = REPLICAS[1 - REPLICAS.index(replica)]
            fast[replica].merge(fast[other].copy())
            slow[replica].merge(slow[other].copy())
            got = want = None
        assert got == want
        assert fast[replica] == slow[replica]
        assert codec.encode(fast[replica]) == codec.encode(slow[replica])
        assert fast[replica].value == slow[replica].value
        for state in (fast[replica], slow[replica]):  # the dot index finds every held dot
            assert all(state.store.holds(d) for d in state.store.dots())
    for lazy, general in unread:  # built only now, after later writes to the same keys
        assert type(lazy).__mro__[2] is SESSIONS and isinstance(lazy, SESSIONS)
        assert lazy == general
        assert codec.encode(lazy) == codec.encode(general)
    if unread:
        joined = SESSIONS.join([lazy for lazy, _ in unread])
        assert joined == SESSIONS.join([general for _, general in unread])


@SAME
@given(steps=steps, readings=st.lists(st.integers(0, 2), min_size=1, max_size=5))
def test_a_map_handle_put_is_the_general_route(steps: list[Any], readings: list[int]) -> None:
    fast_clock, slow_clock = clocks(readings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hlc, "_PROCESS_CLOCK", fast_clock)  # what `m[k] = v` stamps with
        replay_through_a_handle(steps, slow_clock)


def replay_through_a_handle(steps: list[Any], slow_clock: HybridLogicalClock) -> None:
    fast, slow = SESSIONS(), SESSIONS()
    recorded: list[Any] = []
    handle = MapHandle(fast, "r1", recorded.append)
    for op, _, key, n in steps:
        if op in ("put", "bad"):
            value = Session(user=f"u{n}", expires=n)
            handle[key] = value
            want = slow.apply(key, lambda r, v=value: general_assign(r, v, "r1", slow_clock))
        elif op == "remove":
            present = key in slow
            assert handle.pop(key, None) == (slow.value[key] if present else None)
            want = slow.remove(key, replica="r1") if present else None
        else:  # a delete then a put of the same key in one update (a loose register)
            if key in slow:
                del handle[key]
                assert recorded.pop() == slow.remove(key, replica="r1")
            again = Session(user="again", expires=n)
            handle[key] = again
            want = slow.apply(key, lambda r, v=again: general_assign(r, v, "r1", slow_clock))
        if want is not None:
            assert recorded.pop() == want
        assert not recorded
        assert fast == slow


def test_a_lazy_put_delta_handed_over_in_memory_joins_as_the_map_class() -> None:
    source = SESSIONS()
    delta = source.put("s1", Session(user="u", expires=1), replica="w")
    again = delta.copy().put("s2", Session(user="v", expires=2), replica="w")
    state = ReplicaState("r")
    sequence, _ = state.join_remote({"sessions": delta}, origin="w")
    assert sequence == 1 and type(state.objects["sessions"]) is SESSIONS
    state.join_remote({"sessions": again}, origin="w")
    assert state.objects["sessions"].value == {
        "s1": Session(user="u", expires=1),
        "s2": Session(user="v", expires=2),
    }


def test_put_refuses_maps_of_crdts() -> None:
    counters = ORMap[str, PNCounter]()
    with pytest.raises(InvalidValueError):
        counters.put("k", 1, replica="r")


async def test_a_value_from_update_stands_for_its_state_when_looked_at_later() -> None:
    async with Replica.open("a") as replica:
        sessions = replica.container("sessions", SESSIONS)
        first = await sessions.update(lambda m: m.__setitem__("s1", Session(user="u", expires=1)))
        second = await sessions.update(lambda m: m.__setitem__("s2", Session(user="v", expires=2)))
        await sessions.update(lambda m: m.pop("s1"))
        peer = SESSIONS()
        peer.put("s3", Session(user="w", expires=3), replica="peer")
        replica.state_of("sessions").merge(peer)
        # looked at only now: each is the value when it was handed out
        assert first == {"s1": Session(user="u", expires=1)}
        assert dict(second) == {
            "s1": Session(user="u", expires=1),
            "s2": Session(user="v", expires=2),
        }
        assert set(await sessions.get()) == {"s2", "s3"}


async def test_a_value_nobody_reads_is_never_computed() -> None:
    async with Replica.open("a") as replica:
        sessions = replica.container("sessions", SESSIONS)
        for i in range(50):
            await sessions.update(
                lambda m, i=i: m.__setitem__(f"s{i % 7}", Session(user="u", expires=i))
            )
        cache = replica.state_of("sessions").store.cache
        assert cache._map is None, "no value was read: no snapshot was built"
        value = await sessions.get()
        assert isinstance(value, MapSnapshot) and len(value) == 7
        assert cache._map is not None


def test_a_lazy_value_copies_and_pickles_as_computed() -> None:
    sessions = SESSIONS()
    sessions.put("s1", Session(user="u", expires=1), replica="r")
    lazy = sessions.value
    copied, pickled = copy.deepcopy(lazy), pickle.loads(pickle.dumps(lazy))
    sessions.put("s2", Session(user="v", expires=2), replica="r")
    assert copied == pickled == lazy == {"s1": Session(user="u", expires=1)}
    assert copied._source is None and pickled._source is None


def test_lazy_values_of_nested_maps_survive_changes_below() -> None:
    nested = ORMap[str, ORMap[str, PNCounter]]()
    nested.apply("a", lambda m: m.apply("x", lambda c: c.increment(1, replica="r")))
    before = nested.value  # not looked at yet
    inner_before = nested.get("a").value
    nested.apply("a", lambda m: m.apply("x", lambda c: c.increment(5, replica="r")))
    nested.apply("b", lambda m: m.apply("y", lambda c: c.increment(2, replica="r")))
    savepoint = nested.savepoint()
    rolled = nested.value
    nested.apply("a", lambda m: m.remove("x", replica="r"))
    savepoint.restore()
    assert before == {"a": {"x": 1}}
    assert inner_before == {"x": 1}
    assert rolled == nested.value == {"a": {"x": 6}, "b": {"y": 2}}


@SAME
@given(
    before=steps,
    failing=steps,
    after=steps,
    readings=st.lists(st.integers(0, 2), min_size=1, max_size=5),
)
def test_a_restored_put_savepoint_is_the_state_before(
    before: list[Any], failing: list[Any], after: list[Any], readings: list[int]
) -> None:
    """A put saves the register's old writes, not a copy (`KeyedSavepoint.touch_written`):
    restoring after any mix of puts, deletes and re-puts gives back the state before, and
    the restored state goes on exactly like one that never saw the failed update."""
    fast_clock, _ = clocks(readings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hlc, "_PROCESS_CLOCK", fast_clock)
        state = SESSIONS()
        apply_steps(state, before)
        state.value  # noqa: B018 - a cached value must be restored too
        untouched = state.copy()
        savepoint = state.savepoint()
        apply_steps(state, failing)
        savepoint.restore()
        assert state == untouched
        assert codec.encode(state) == codec.encode(untouched)
        assert state.value == untouched.value
        # both go on alike (one writer: the stamps differ, not the values, dots or keys)
        apply_steps(state, after)
        apply_steps(untouched, after)
    assert state.value == untouched.value
    assert sorted(state.store.dots()) == sorted(untouched.store.dots())
    assert state.context == untouched.context


def apply_steps(state: Any, steps: list[Any]) -> None:
    """`steps` through a map handle: puts, deletes, and a delete then a put of one key."""
    handle = MapHandle(state, "r1", lambda delta: None)
    for op, _, key, n in steps:
        if op in ("put", "bad"):
            handle[key] = Session(user=f"u{n}", expires=n)
        elif op == "remove":
            handle.pop(key, None)
        else:
            handle.pop(key, None)
            handle[key] = Session(user="again", expires=n)
