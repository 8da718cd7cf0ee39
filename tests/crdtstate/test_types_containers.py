"""A replicated container runs the same updater as a `LockedContainer` and ends with the same
value, for sets and maps; handles follow Python's protocols; an updater that raises changes
nothing; declared kinds work through `replica.container`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from crdtstate import (
    AWSet,
    DWFlag,
    EWFlag,
    GSet,
    InvalidValueError,
    KindMismatchError,
    LockedContainer,
    LWWRegister,
    MVRegister,
    ORMap,
    PNCounter,
    ProtocolError,
    Replica,
    RWSet,
    codec,
)

from .type_scenarios import KINDS, Kind, histories

pytestmark = pytest.mark.anyio

SAME = settings(max_examples=60, deadline=None)
KEYS = st.sampled_from(["a", "b", "c"])
SMALL = st.integers(-3, 3)
Updater = Callable[[Any], None]


async def same_values(initial: Any, kind: Any, updates: list[list[Updater]]) -> None:
    locked = LockedContainer(initial)
    async with Replica.open("solo") as replica:
        replicated = replica.container("x", kind)
        for steps in updates:

            def updater(state: Any, steps: list[Updater] = steps) -> None:
                for step in steps:
                    step(state)

            expected = await locked.update(updater)
            got = await replicated.update(updater)
            assert got == expected
            assert await replicated.get() == await locked.get()


def run_same(initial: Any, kind: Any, updates: list[list[Updater]]) -> None:
    trio.run(same_values, initial, kind, updates)


def batches(step: st.SearchStrategy[Updater]) -> st.SearchStrategy[list[list[Updater]]]:
    return st.lists(st.lists(step, max_size=4), max_size=6)


def _discard(e: Any) -> Updater:
    return lambda s: s.discard(e)


set_steps = st.one_of(
    SMALL.map(lambda e: lambda s: s.add(e)),
    SMALL.map(_discard),
    st.just(lambda s: s.clear()),
    st.lists(SMALL, max_size=3).map(lambda es: lambda s: s.__ior__(set(es))),
    st.lists(SMALL, max_size=3).map(lambda es: lambda s: s.__isub__(set(es))),
)


@pytest.mark.parametrize("kind", [AWSet, RWSet])
@SAME
@given(batches(set_steps))
def test_sets_match_a_locked_set(kind: type, updates: list[list[Updater]]) -> None:
    run_same(set(), kind, updates)


def _set_key(k: str, v: Any) -> Updater:
    def step(m: Any) -> None:
        m[k] = v

    return step


def _del_key(k: str) -> Updater:
    def step(m: Any) -> None:
        if k in m:
            del m[k]

    return step


plain_map_steps = st.one_of(
    st.tuples(KEYS, SMALL | st.sampled_from(["s", None])).map(lambda kv: _set_key(*kv)),
    KEYS.map(_del_key),
    KEYS.map(lambda k: lambda m: m.pop(k, None)),
    st.dictionaries(KEYS, SMALL).map(lambda d: lambda m: m.update(d)),
    st.tuples(KEYS, SMALL).map(lambda kv: lambda m: m.setdefault(*kv)),
    st.just(lambda m: m.clear()),
)


@pytest.mark.parametrize("kind", [ORMap, ORMap[str, int | str | None]])
@SAME
@given(batches(plain_map_steps))
def test_maps_of_plain_values_match_a_locked_dict(kind: Any, updates: list[list[Updater]]) -> None:
    run_same({}, kind, updates)


def _bump(k: str, n: int) -> Updater:
    def step(m: Any) -> None:
        m[k] = m.get(k, 0) + n

    return step


def _add_in(k: str, e: int) -> Updater:
    return lambda m: m.setdefault(k, set()).add(e)


def _discard_in(k: str, e: int) -> Updater:
    def step(m: Any) -> None:
        if k in m:
            m[k].discard(e)
            if k in m and not m[k]:
                del m[k]  # an empty nested value is an absent key in an ORMap

    return step


@SAME
@given(batches(st.one_of(st.tuples(KEYS, SMALL).map(lambda kn: _bump(*kn)), KEYS.map(_del_key))))
def test_maps_of_counters_match_a_locked_dict_of_ints(updates: list[list[Updater]]) -> None:
    run_same({}, ORMap[str, PNCounter], updates)


@SAME
@given(
    batches(
        st.one_of(
            st.tuples(KEYS, SMALL).map(lambda ke: _add_in(*ke)),
            st.tuples(KEYS, SMALL).map(lambda ke: _discard_in(*ke)),
            KEYS.map(_del_key),
        )
    )
)
def test_maps_of_sets_match_a_locked_dict_of_sets(updates: list[list[Updater]]) -> None:
    run_same({}, ORMap[str, AWSet], updates)


def _nested_set(a: str, b: str, v: int) -> Updater:
    return lambda m: m.setdefault(a, {}).__setitem__(b, v)


def _nested_del(a: str, b: str) -> Updater:
    def step(m: Any) -> None:
        if a in m and b in m[a]:
            del m[a][b]
            if a in m and not m[a]:
                del m[a]

    return step


@SAME
@given(
    batches(
        st.one_of(
            st.tuples(KEYS, KEYS, SMALL).map(lambda t: _nested_set(*t)),
            st.tuples(KEYS, KEYS).map(lambda t: _nested_del(*t)),
            KEYS.map(_del_key),
        )
    )
)
def test_maps_of_maps_match_a_locked_dict_of_dicts(updates: list[list[Updater]]) -> None:
    run_same({}, ORMap[str, ORMap[str, int]], updates)


# -- an updater that raises changes nothing -------------------------------------------------


def handle_steps(kind: Kind) -> st.SearchStrategy[Updater]:
    """Updaters through handles, one family per kind."""
    name = kind.name
    if name.startswith("ExpiringMap"):
        return st.one_of(
            st.tuples(KEYS, SMALL).map(lambda kv: lambda m: m.set(kv[0], kv[1], ttl=60)),
            KEYS.map(lambda k: lambda m: m.delete(k)),
        )
    if name == "BoundedCounter":
        return st.integers(0, 3).map(lambda n: lambda b: (b.mint(n), b.try_spend(1)))
    if name == "ExpiringRegister":
        return SMALL.map(lambda v: lambda r: r.set(v, ttl=60))
    if name.startswith("ORMap[str, ORMap"):
        return st.one_of(KEYS.map(_del_key), KEYS.map(lambda k: lambda m: m[k].clear()))
    if "Counter]" in name or name.endswith("Counter"):
        if name.startswith("ORMap"):
            return st.tuples(KEYS, st.integers(0, 3)).map(
                lambda kn: lambda m: m[kn[0]].increment(kn[1])
            )
        return st.integers(0, 3).map(lambda n: lambda c: c.increment(n))
    if name.startswith("ORMap"):
        return KEYS.map(_del_key)
    if "Set" in name:
        return SMALL.map(lambda e: lambda s: s.add(e))
    if "Flag" in name:
        return st.sampled_from([lambda f: f.enable(), lambda f: f.disable()])
    return SMALL.map(lambda v: lambda r: setattr(r, "value", v))


@pytest.mark.parametrize("kind", KINDS, ids=repr)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_an_updater_that_raises_changes_nothing(kind: Kind, data: st.DataObject) -> None:
    start = data.draw(histories(kind)).states[0]
    steps = data.draw(st.lists(handle_steps(kind), max_size=5))

    async def scenario() -> None:
        async with Replica.open("a") as replica:
            container = replica.container("x", kind.cls)
            await replica.apply_remote({"x": start.copy()}, origin="b")
            before = codec.encode(replica.snapshot("x"))
            sequence = replica.buffer.sequence

            def failing(handle: Any) -> None:
                for step in steps:
                    step(handle)
                raise RuntimeError("boom")

            with pytest.raises(RuntimeError):
                await container.update(failing)
            assert codec.encode(replica.snapshot("x")) == before
            assert replica.buffer.sequence == sequence
            # and the state still works: the same steps succeed afterwards
            await container.update(lambda h: [step(h) for step in steps])

    trio.run(scenario)


# -- handles and declared kinds through a replica --------------------------------------------


class Config(BaseModel):
    host: str
    port: int


async def test_declared_kinds_work_through_replica_container() -> None:
    async with Replica.open("a") as replica:
        hits = replica.container("hits", ORMap[str, PNCounter])
        assert replica.container("hits", ORMap(key=str, value=PNCounter)) is hits

        def count(m: Any) -> None:
            assert m["never"].value == 0  # a missing key reads as an empty counter
            m["home"].increment(2)
            m["home"] += 1
            m["docs"] -= 1

        assert await hits.update(count) == {"home": 3, "docs": -1}
        sessions = replica.container("sessions", ORMap[str, ORMap[str, Config]])
        await sessions.update(lambda m: m["alice"].__setitem__("web", {"host": "h", "port": 1}))
        assert (await sessions.get())["alice"]["web"] == Config(host="h", port=1)
        with pytest.raises(InvalidValueError):
            await sessions.update(lambda m: m["alice"].__setitem__("web", {"host": "h"}))
        assert (await sessions.get())["alice"]["web"] == Config(host="h", port=1)
        with pytest.raises(KindMismatchError):
            replica.container("hits", ORMap[str, AWSet])


async def test_registers_and_flags_have_value_and_enable_disable() -> None:
    async with Replica.open("a") as replica:
        config = replica.container("config", LWWRegister[Config])
        await config.update(lambda r: setattr(r, "value", Config(host="x", port=2)))
        assert await config.get() == Config(host="x", port=2)
        choices = replica.container("choices", MVRegister)
        await choices.update(lambda r: setattr(r, "value", "one"))
        assert await choices.get() == ("one",)
        for kind in (EWFlag, DWFlag):
            flag = replica.container(kind.kind, kind)
            assert await flag.update(lambda f: f.enable()) is True
            assert await flag.update(lambda f: f.disable()) is False
        tags = replica.container("tags", GSet)
        assert await tags.update(lambda s: s.add("a")) == {"a"}
        with pytest.raises(InvalidValueError):
            await tags.update(lambda s: s.discard("a"))


async def test_an_undeclared_object_from_a_peer_is_adopted_if_it_fits_its_declaration() -> None:
    source = ORMap[str, PNCounter]()
    delta = source.apply("k", lambda c: c.increment(4, replica="b"))
    generic = codec.decode(codec.encode(delta))  # what the session decodes: no declaration
    assert type(generic) is ORMap
    async with Replica.open("a") as replica:
        await replica.apply_remote({"hits": generic}, origin="b")
        with pytest.raises(KindMismatchError):
            replica.container("hits", ORMap[str, AWSet])
        hits = replica.container("hits", ORMap[str, PNCounter])
        assert await hits.update(lambda m: m["k"].increment(1)) == {"k": 5}


async def test_a_peer_delta_that_breaks_the_declaration_changes_nothing() -> None:
    async with Replica.open("a") as replica:
        config = replica.container("config", ORMap[str, Config])
        await config.update(lambda m: m.__setitem__("web", {"host": "h", "port": 1}))
        before = codec.encode(replica.snapshot("config"))
        rogue = ORMap()
        rogue.apply("web", lambda r: r.assign({"host": "h", "port": "eighty"}, replica="b"))
        with pytest.raises(ProtocolError):
            await replica.apply_remote({"config": codec.decode(codec.encode(rogue))}, "b")
        assert codec.encode(replica.snapshot("config")) == before


async def test_typed_deltas_flow_between_replicas_and_validate_on_arrival() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        sa = a.container("s", ORMap[str, LWWRegister[Config]])
        sb = b.container("s", ORMap[str, LWWRegister[Config]])
        await sa.update(lambda m: m.__setitem__("web", Config(host="a", port=1)))
        for group in a.buffer.collect(0).items():
            wire = codec.pack(codec.to_wire(group[1]))
            await b.apply_remote({group[0]: codec.decode(wire)}, origin="a")
        assert await sb.get() == {"web": Config(host="a", port=1)}
        assert a.digest() == b.digest()
