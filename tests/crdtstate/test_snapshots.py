"""Set and map values kept current key by key (`crdtstate.types.snapshots`, issue 14).

The value a set or map hands out is a persistent snapshot refreshed only for the keys touched
since the last read. These properties check it against a value computed from scratch (a copy
decoded from the wire, which has no cache history) after every step of random histories of
local mutations, merges, copies and rolled-back updates, that every snapshot handed out stays
as it was, and that `KeyChanges.between` names exactly the keys that differ.
"""

from __future__ import annotations

import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate import AWSet, ORMap, PNCounter, Replica, codec
from crdtstate.types.snapshots import KeyChanges, MapSnapshot, SetSnapshot

pytestmark = pytest.mark.anyio

HISTORIES = settings(max_examples=80, deadline=None, derandomize=True)
REPLICAS = ("r1", "r2")
NESTED = ORMap[str, ORMap[str, AWSet]]
COUNTERS = ORMap[str, PNCounter]

keys = st.sampled_from("abcde")
steps = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "remove", "clear", "merge", "copy", "rollback", "read"]),
        st.sampled_from(REPLICAS),
        keys,
        st.integers(-3, 3),
    ),
    max_size=40,
)


def mutate(kind: type, state: Any, op: str, replica: str, key: str, n: int) -> None:
    if kind is AWSet:
        if op == "add":
            state.add(key, replica=replica)
        elif op == "remove":
            state.remove(key, replica=replica)
        else:
            state.clear(replica=replica)
    elif kind is COUNTERS:
        if op == "add":
            state.apply(key, lambda c: c.increment(n, replica=replica))
        elif op == "remove":
            state.remove(key, replica=replica)
        else:
            state.clear(replica=replica)
    elif op == "add":
        inner = "xy"[n % 2]
        state.apply(key, lambda m: m.apply(inner, lambda s: s.add(n, replica=replica)))
    elif op == "remove":
        state.apply(key, lambda m: m.remove("x", replica=replica))
    else:
        state.remove(key, replica=replica)


def fresh(state: Any) -> Any:
    """The value computed from scratch: a decoded copy has no cache history."""
    return codec.decode(codec.encode(state)).value


def plain(value: Any) -> Any:
    if isinstance(value, SetSnapshot):
        return frozenset(value)
    if isinstance(value, MapSnapshot):
        return {k: plain(v) for k, v in value.items()}
    return value


def naive_changes(old: Any, new: Any) -> KeyChanges:
    old, new = plain(old), plain(new)
    if isinstance(new, frozenset):
        return KeyChanges(added=new - old, removed=old - new)
    return KeyChanges(
        added=frozenset(new.keys() - old.keys()),
        removed=frozenset(old.keys() - new.keys()),
        changed=frozenset(k for k in new.keys() & old.keys() if new[k] != old[k]),
    )


@pytest.mark.parametrize("kind", [AWSet, COUNTERS, NESTED], ids=["awset", "counters", "nested"])
@HISTORIES
@given(steps=steps)
def test_values_stay_exact_and_snapshots_never_change(kind: type, steps: list[Any]) -> None:
    states = {r: kind() for r in REPLICAS}
    handed_out: list[tuple[Any, Any]] = []  # (snapshot, its plain value when handed out)
    for op, replica, key, n in steps:
        state = states[replica]
        before = state.value
        if op in ("add", "remove", "clear"):
            mutate(kind, state, op, replica, key, n)
        elif op == "merge":
            state.merge(states[REPLICAS[1 - REPLICAS.index(replica)]].copy())
        elif op == "copy":
            states[replica] = state = state.copy()
        elif op == "rollback":  # an updater that raised halfway
            savepoint = state.savepoint()
            mutate(kind, state, "add", replica, key, n)
            mutate(kind, state, "remove", replica, "a", n)
            savepoint.restore()
        after = state.value
        assert after == fresh(state)
        assert plain(after) == plain(fresh(state))
        assert KeyChanges.between(before, after) == naive_changes(before, after)
        handed_out.append((after, plain(after)))
    for snapshot, value in handed_out:
        assert plain(snapshot) == value, "a snapshot handed out never changes"


def test_snapshots_compare_equal_to_plain_values() -> None:
    s = AWSet.of(["a", 1], replica="r")
    assert s.value == frozenset({"a", 1}) and frozenset({"a", 1}) == s.value
    assert s.value | {"b"} == {"a", 1, "b"}
    assert hash(s.value) == hash(frozenset({"a", 1}))
    m = COUNTERS()
    m.apply("k", lambda c: c.increment(2, replica="r"))
    assert m.value == {"k": 2} and m.value != {"k": 3}
    assert {"k": 2} == m.value  # noqa: SIM300 - the reflected comparison is the point
    assert dict(m.value) == {"k": 2} and repr(m.value) == "{'k': 2}"


async def test_a_subscriber_is_told_which_keys_changed() -> None:
    async with Replica.open("a") as replica:
        sessions = replica.container("sessions", COUNTERS)
        await sessions.update(lambda m: [m[k].increment(1) for k in "abc"])
        async with sessions.subscribe() as changes:
            await sessions.update(lambda m: (m["a"].increment(1), m.pop("b"), m["d"].increment(1)))
            change = await changes.__anext__()
        assert change.keys == KeyChanges(
            added=frozenset("d"), removed=frozenset("b"), changed=frozenset("a")
        )
        assert change.value == {"a": 2, "c": 1, "d": 1}
        assert change.previous == {"a": 1, "b": 1, "c": 1}


PLAIN = ORMap[str, int]
lazy_steps = st.lists(
    st.tuples(
        st.sampled_from(["put", "put", "remove", "clear", "merge", "copy", "rollback"]),
        st.sampled_from(REPLICAS),
        keys,
        st.integers(-3, 3),
        st.sampled_from(["keep", "weak", "drop"]),
    ),
    max_size=40,
)


@HISTORIES
@given(steps=lazy_steps)
def test_lazy_values_are_computed_before_a_change_only_when_held(steps: list[Any]) -> None:
    """A map's value is handed out unread (lazy); the next change computes it first only if
    something still holds it, strongly or by a weak reference, and one nobody holds is
    handed out again. Whatever the history, a value looked at late is the value it was when
    handed out, and a weak reference never sees one change."""
    states = {r: PLAIN() for r in REPLICAS}
    kept: list[tuple[Any, Any]] = []  # (snapshot never looked at, its value when handed out)
    weak: list[tuple[Any, Any]] = []
    for op, replica, key, n, hold in steps:
        state = states[replica]
        if op == "put":
            state.put(key, n, replica=replica)
        elif op == "remove":
            state.remove(key, replica=replica)
        elif op == "clear":
            state.clear(replica=replica)
        elif op == "merge":
            state.merge(states[REPLICAS[1 - REPLICAS.index(replica)]].copy())
        elif op == "copy":
            states[replica] = state = state.copy()
        else:  # an updater that raised halfway
            savepoint = state.savepoint()
            state.put(key, n, replica=replica)
            state.remove("a", replica=replica)
            savepoint.restore()
        expected = plain(fresh(state))  # from a decoded copy: the value is not looked at
        value = state.value
        if hold == "keep":
            kept.append((value, expected))
        elif hold == "weak":
            weak.append((weakref.ref(value), expected))
        del value  # (looking at a weakly held one here would compute it: only at the end)
    for snapshot, was in kept:
        assert plain(snapshot) == was, "a held value changed before it was looked at"
    for ref, was in weak:
        seen = ref()
        assert seen is None or plain(seen) == was, "a weakly held value changed"


def test_a_value_nobody_holds_is_handed_out_again() -> None:
    """`update()` returns the new value, which most callers drop: the next one is then the
    same lazy object, never computed (the allocation-free path); held, it is never reused."""
    state = PLAIN()
    state.put("a", 1, replica="r")
    first = id(state.value)
    state.put("b", 2, replica="r")
    assert id(state.value) == first
    held = state.value
    state.put("c", 3, replica="r")
    assert state.value is not held
    assert held == {"a": 1, "b": 2} and state.value == {"a": 1, "b": 2, "c": 3}
