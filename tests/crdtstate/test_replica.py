"""Replica and replicated containers (DESIGN §3, Containers / Replica and storage).

A replica hands out containers with the LockedContainer API; updaters get handles bound to the
replica id; remote deltas are joined, announced with the sender as origin, and buffered only
when they add something. Deltas travel here as `buffer.collect(...)` of the sending replica.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSet
from typing import Any

import anyio
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from crdtstate import (
    AWSet,
    Change,
    Crdt,
    GCounter,
    InvalidValueError,
    KindMismatchError,
    LockedContainer,
    PNCounter,
    ProtocolError,
    Replica,
    ReplicaClosedError,
)
from crdtstate.containers.changes import Subscription

from .strategies import (
    HISTORY_LAWS,
    KINDS,
    REPLICAS,
    Mutation,
    elements,
    histories,
    join_all,
    mutations,
)

pytestmark = pytest.mark.anyio


class Boom(Exception):
    """Raised by test updaters."""


async def next_change(changes: Subscription) -> Change:
    """The next change, failing the test instead of hanging when none comes."""
    with anyio.fail_after(2):
        return await anext(changes)


def fingerprint(replica: Replica, name: str) -> tuple[Any, ...]:
    """Everything an update may change: value, version, digest and buffer position."""
    state = replica.snapshot(name)
    value = state.value if state is not None else None
    version = state.version if state is not None else None
    return value, version, replica.digest(), replica.buffer.sequence, len(replica.buffer)


async def sync(sender: Replica, receiver: Replica) -> int | None:
    """Ship everything `sender` buffered to `receiver`."""
    return await receiver.apply_remote(sender.buffer.collect(0), origin=sender.id)


# -- containers --------------------------------------------------------------------------------


async def test_same_name_returns_the_same_container() -> None:
    """container(name, kind) twice gives the same container; another name, another one."""
    async with Replica.open("a") as replica:
        tools = replica.container("tools", AWSet)
        assert replica.container("tools", AWSet) is tools
        other = replica.container("other", AWSet)
        assert other is not tools
        await tools.update(lambda s: s.add("x"))
        assert await replica.container("tools", AWSet).get() == frozenset({"x"})
        assert await other.get() == frozenset()
        assert replica.names() == ["other", "tools"]


@pytest.mark.parametrize(("kind", "other"), [(AWSet, PNCounter), (PNCounter, GCounter)])
async def test_other_kind_raises_kind_mismatch(kind: type[Crdt], other: type[Crdt]) -> None:
    """Asking for an existing name with another kind raises KindMismatchError."""
    async with Replica.open("a") as replica:
        replica.container("obj", kind)
        with pytest.raises(KindMismatchError):
            replica.container("obj", other)
        assert replica.kind_of("obj") == kind.kind


async def test_set_handle_is_a_mutable_set() -> None:
    """A set container's updater receives a collections.abc.MutableSet bound to the replica."""
    seen: dict[str, Any] = {}

    def updater(s: Any) -> None:
        seen["is_mutable_set"] = isinstance(s, MutableSet)
        s.add("a")
        s.add("b")
        s.add("a")
        seen["len"] = len(s)
        seen["members"] = sorted(s)
        seen["in"] = ("a" in s, "z" in s)
        s.discard("a")
        s.discard("never-there")
        s.remove("b")
        s |= {"x", "y", "z"}
        s -= {"z"}
        seen["final"] = set(s)

    async with Replica.open("a") as replica:
        tools = replica.container("tools", AWSet)
        assert await tools.update(updater) == frozenset({"x", "y"})
        assert await tools.get() == frozenset({"x", "y"})
    assert seen == {
        "is_mutable_set": True,
        "len": 2,
        "members": ["a", "b"],
        "in": (True, False),
        "final": {"x", "y"},
    }


async def test_set_handle_remove_of_missing_raises_key_error() -> None:
    """remove() of an absent element raises KeyError out of update, and changes nothing."""
    async with Replica.open("a") as replica:
        tools = replica.container("tools", AWSet)
        await tools.update(lambda s: s.add("present"))
        before = fingerprint(replica, "tools")

        def remove_missing(s: Any) -> None:
            s.add("would-be-added")
            s.remove("missing")

        with pytest.raises(KeyError):
            await tools.update(remove_missing)
        assert fingerprint(replica, "tools") == before


async def test_counter_handle_increment_and_decrement() -> None:
    """A counter handle has increment(n=1) and decrement(n=1)."""
    async with Replica.open("a") as replica:
        hits = replica.container("hits", PNCounter)
        seen: list[int] = []

        def updater(c: Any) -> None:
            c.increment()
            c.increment(5)
            c.decrement()
            seen.append(c.value)
            c.decrement(2)

        assert await hits.update(updater) == 3
        assert seen == [5]
        assert await hits.update(lambda c: c.decrement(10)) == -7
        grows = replica.container("grows", GCounter)
        assert await grows.update(lambda c: (c.increment(), c.increment(4))) == 5
        assert await grows.get() == 5


async def test_gcounter_handle_refuses_decrement() -> None:
    """decrement on a grow-only counter raises InvalidValueError and changes nothing."""
    async with Replica.open("a") as replica:
        grows = replica.container("grows", GCounter)
        await grows.update(lambda c: c.increment(2))
        before = fingerprint(replica, "grows")
        with pytest.raises(InvalidValueError):
            await grows.update(lambda c: (c.increment(), c.decrement()))
        assert fingerprint(replica, "grows") == before


@pytest.mark.parametrize(
    ("kind", "setup", "mutate"),
    [
        (AWSet, lambda s: s.add("kept"), lambda s: (s.add("new"), s.discard("kept"), s.clear())),
        (PNCounter, lambda c: c.increment(3), lambda c: (c.increment(7), c.decrement(2))),
        (GCounter, lambda c: c.increment(3), lambda c: c.increment(7)),
    ],
    ids=["AWSet", "PNCounter", "GCounter"],
)
async def test_updater_that_raises_changes_nothing(
    kind: type[Crdt], setup: Callable[[Any], Any], mutate: Callable[[Any], Any]
) -> None:
    """An updater that mutates and then raises leaves value, version, replica.digest() and the
    buffer unchanged, notifies nobody, and its exception reaches the caller."""
    error = Boom("updater failed")

    def failing(handle: Any) -> None:
        mutate(handle)
        raise error

    async with Replica.open("a") as replica:
        container = replica.container("obj", kind)
        await container.update(setup)
        before = fingerprint(replica, "obj")
        async with container.subscribe() as changes:
            with pytest.raises(Boom) as caught:
                await container.update(failing)
            assert caught.value is error
            assert fingerprint(replica, "obj") == before
            assert container.version == before[1]
            await container.update(setup)
            change = await next_change(changes)
        assert change.previous == before[0]


HANDLE_METHODS = {"remove": "discard"}  # the MutableSet name of the AWSet mutator


def run_on_handle(mutation: Mutation, handle: Any) -> None:
    """Call `mutation` through an updater's handle instead of on the state."""
    getattr(handle, HANDLE_METHODS.get(mutation.name, mutation.name))(*mutation.args)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@HISTORY_LAWS
@given(data=st.data())
def test_failing_updater_restores_the_exact_state(kind: type[Crdt], data: st.DataObject) -> None:
    """After any successful updates, an updater that mutates at random and then raises leaves
    the state exactly as it was (equal state, digest and buffer), and later updates give the
    same state as on a replica where the failed update never happened."""
    mutation_lists = st.lists(mutations(kind()), max_size=5)
    before = data.draw(st.lists(mutation_lists, max_size=4), label="successful updates")
    failed = data.draw(mutation_lists, label="failed update")
    after = data.draw(mutation_lists, label="update after the failure")

    def updater(batch: list[Mutation], *, fail: bool = False) -> Callable[[Any], None]:
        def run(handle: Any) -> None:
            for mutation in batch:
                run_on_handle(mutation, handle)
            if fail:
                raise Boom

        return run

    async def scenario() -> None:
        async with Replica.open("a") as replica, Replica.open("a") as twin:
            twin.writer = replica.writer  # the same writer: equal histories, equal states
            for r in (replica, twin):
                container = r.container("obj", kind)
                for batch in before:
                    await container.update(updater(batch))
            saved = replica.snapshot("obj")
            before_failure = fingerprint(replica, "obj")
            with pytest.raises(Boom):
                await replica.container("obj", kind).update(updater(failed, fail=True))
            assert replica.snapshot("obj") == saved
            assert fingerprint(replica, "obj") == before_failure
            for r in (replica, twin):
                await r.container("obj", kind).update(updater(after))
            assert replica.snapshot("obj") == twin.snapshot("obj")
            assert replica.digest() == twin.digest()

    trio.run(scenario)


async def test_local_changes_are_announced_with_the_replica_id() -> None:
    """Subscribers see each local update with value, previous, origin == replica id and version;
    the version moves forward with every update."""
    async with Replica.open("node-a") as replica:
        tools = replica.container("tools", AWSet)
        await tools.update(lambda s: s.add("before-subscribe"))
        async with tools.subscribe() as changes:
            v0 = tools.version
            await tools.update(lambda s: s.add("x"))
            v1 = tools.version
            await tools.update(lambda s: s.discard("before-subscribe"))
            first = await next_change(changes)
            second = await next_change(changes)
    assert v0 < v1 < tools.version
    assert first.origin == second.origin == "node-a"
    assert first.previous == frozenset({"before-subscribe"})
    assert first.value == second.previous == frozenset({"before-subscribe", "x"})
    assert second.value == frozenset({"x"})
    assert (first.version, second.version) == (v1, tools.version)


async def test_one_update_is_one_delta_group() -> None:
    """All the mutations of one update call form one buffered delta-group."""
    async with Replica.open("a") as replica:
        tools = replica.container("tools", AWSet)
        await tools.update(lambda s: (s.add("x"), s.add("y"), s.discard("x")))
        assert replica.buffer.sequence == 1
        assert len(replica.buffer) == 1
        await tools.update(lambda s: None)  # no mutation, no group
        assert replica.buffer.sequence == 1


# -- remote deltas ------------------------------------------------------------------------------


async def test_apply_remote_converges() -> None:
    """Two replicas that updated concurrently and exchanged their buffers hold equal states."""
    async with Replica.open("a") as a, Replica.open("b") as b:
        await a.container("tools", AWSet).update(lambda s: (s.add("x"), s.add("shared")))
        await a.container("hits", PNCounter).update(lambda c: c.increment(5))
        await b.container("tools", AWSet).update(lambda s: (s.add("y"), s.add("shared")))
        await b.container("hits", PNCounter).update(lambda c: c.decrement(2))
        from_a, from_b = a.buffer.collect(0), b.buffer.collect(0)
        assert await b.apply_remote(from_a, origin="a") is not None
        assert await a.apply_remote(from_b, origin="b") is not None
        assert a.digest() == b.digest()
        for replica in (a, b):
            assert await replica.container("tools", AWSet).get() == {"x", "y", "shared"}
            assert await replica.container("hits", PNCounter).get() == 3


async def test_remote_remove_of_an_observed_element_propagates() -> None:
    """A removal made on b of an element b learned from a is applied on a."""
    async with Replica.open("a") as a, Replica.open("b") as b:
        await a.container("tools", AWSet).update(lambda s: (s.add("x"), s.add("y")))
        await sync(a, b)
        start = b.buffer.sequence
        await b.container("tools", AWSet).update(lambda s: s.discard("x"))
        await a.apply_remote(b.buffer.collect(start), origin="b")
        assert await a.container("tools", AWSet).get() == frozenset({"y"})
        await b.container("tools", AWSet).update(lambda s: s.clear())
        await sync(b, a)
        assert await a.container("tools", AWSet).get() == frozenset()
        assert a.digest() == b.digest()


async def test_remote_change_is_announced_with_the_sender_as_origin() -> None:
    """A remote merge that changes an object notifies its subscribers with origin == sender."""
    async with Replica.open("a") as a, Replica.open("b") as b:
        tools = a.container("tools", AWSet)
        await tools.update(lambda s: s.add("mine"))
        await b.container("tools", AWSet).update(lambda s: s.add("theirs"))
        async with tools.subscribe() as changes:
            await sync(b, a)
            change = await next_change(changes)
    assert change.origin == "b"
    assert change.previous == frozenset({"mine"})
    assert change.value == frozenset({"mine", "theirs"})
    assert change.version == tools.version


async def test_remote_merge_that_changes_nothing_is_silent() -> None:
    """Deltas already held (a duplicate, or our own echoed back) notify nobody, are not
    buffered, and apply_remote returns None."""
    async with Replica.open("a") as a, Replica.open("b") as b:
        tools = a.container("tools", AWSet)
        await tools.update(lambda s: s.add("x"))
        await b.container("tools", AWSet).update(lambda s: s.add("y"))
        assert await sync(b, a) is not None
        await sync(a, b)
        async with tools.subscribe() as changes:
            before = fingerprint(a, "tools")
            assert await sync(b, a) is None  # a duplicate
            assert await a.apply_remote(a.buffer.collect(0), origin="b") is None  # an echo
            assert fingerprint(a, "tools") == before
            await tools.update(lambda s: s.add("z"))
            change = await next_change(changes)
        assert (change.origin, change.value) == ("a", frozenset({"x", "y", "z"}))


async def test_kind_conflict_raises_protocol_error_and_changes_nothing() -> None:
    """A delta-group with an entry of the wrong kind raises ProtocolError and applies none of
    its entries, not even the valid ones."""
    async with Replica.open("a") as a, Replica.open("b") as b:
        await a.container("tools", AWSet).update(lambda s: s.add("x"))
        await b.container("fresh", GCounter).update(lambda c: c.increment(3))
        await b.container("tools", PNCounter).update(lambda c: c.increment(1))
        deltas = b.buffer.collect(0)
        assert list(deltas) == ["fresh", "tools"]
        before = (fingerprint(a, "tools"), a.names())
        with pytest.raises(ProtocolError):
            await a.apply_remote(deltas, origin="b")
        assert (fingerprint(a, "tools"), a.names()) == before
        assert a.snapshot("fresh") is None


async def test_objects_received_remotely_are_held_and_adopted() -> None:
    """A replica keeps objects it never opened, covers them in digest(), and container()
    adopts them later, or raises KindMismatchError for another kind."""
    async with Replica.open("a") as a, Replica.open("b") as b:
        await b.container("hits", PNCounter).update(lambda c: c.increment(4))
        await sync(b, a)
        assert a.names() == ["hits"]
        assert a.digest() == b.digest()
        with pytest.raises(KindMismatchError):
            a.container("hits", AWSet)
        assert await a.container("hits", PNCounter).get() == 4


async def test_closed_replica_refuses_work() -> None:
    """After the replica closes, update and apply_remote raise ReplicaClosedError."""
    async with Replica.open("b") as b:
        await b.container("hits", GCounter).update(lambda c: c.increment())
    async with Replica.open("a") as a:
        hits = a.container("hits", GCounter)
    with pytest.raises(ReplicaClosedError):
        await hits.update(lambda c: c.increment())
    with pytest.raises(ReplicaClosedError):
        await a.apply_remote(b.buffer.collect(0), origin="b")


# -- digests and convergence under random schedules ---------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@HISTORY_LAWS
@given(data=st.data())
def test_digest_equal_exactly_when_states_equal(kind: type[Crdt], data: st.DataObject) -> None:
    """replica.digest() of two replicas is equal exactly when their states are equal."""
    history = data.draw(histories(kind))
    for_a = data.draw(st.lists(st.sampled_from(history.pool())))
    for_b = data.draw(st.lists(st.sampled_from(history.pool())))

    async def scenario() -> None:
        async with Replica.open("a") as a, Replica.open("b") as b:
            for replica, parts in ((a, for_a), (b, for_b)):
                for part in parts:
                    await replica.apply_remote({"obj": part.copy()}, origin="peer")
            state_a = a.snapshot("obj") or kind()
            state_b = b.snapshot("obj") or kind()
            assert state_a == join_all(kind, for_a)
            assert state_b == join_all(kind, for_b)
            assert (a.digest() == b.digest()) is (state_a == state_b)

    trio.run(scenario)


set_actions = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(REPLICAS), elements),
        st.tuples(st.just("discard"), st.sampled_from(REPLICAS), elements),
        st.tuples(st.just("clear"), st.sampled_from(REPLICAS), st.none()),
        st.tuples(st.just("sync"), st.sampled_from(REPLICAS), st.sampled_from(REPLICAS)),
    ),
    max_size=30,
)


def set_updater(action: str, element: Any) -> Callable[[Any], None]:
    """An updater calling `action` ("add", "discard" or "clear") on the set handle."""

    def updater(s: Any) -> None:
        if action == "clear":
            s.clear()
        else:
            getattr(s, action)(element)

    return updater


@HISTORY_LAWS
@given(set_actions)
def test_replicas_converge_after_any_schedule(actions: list[tuple[str, str, Any]]) -> None:
    """Replicas updating a set and syncing (sending what the receiver has not acknowledged,
    never echoing its own groups) in any order end equal once everyone syncs with everyone,
    and hold the join of every replica's state."""

    async def scenario() -> None:
        async with (
            Replica.open("a") as a,
            Replica.open("b") as b,
            Replica.open("c") as c,
        ):
            replicas = {"a": a, "b": b, "c": c}
            acked = {(s, r): 0 for s in REPLICAS for r in REPLICAS}

            async def ship(sender: str, receiver: str) -> None:
                if sender == receiver:
                    return
                source = replicas[sender]
                deltas = source.buffer.collect(acked[sender, receiver], exclude_origin=receiver)
                acked[sender, receiver] = source.buffer.sequence
                if deltas:
                    await replicas[receiver].apply_remote(deltas, origin=sender)

            for action, actor, arg in actions:
                if action == "sync":
                    await ship(actor, arg)
                else:
                    container = replicas[actor].container("tools", AWSet)
                    await container.update(set_updater(action, arg))
            everything = join_all(
                AWSet, [r.snapshot("tools") for r in replicas.values() if r.snapshot("tools")]
            )
            for _ in range(2):
                for sender in REPLICAS:
                    for receiver in REPLICAS:
                        await ship(sender, receiver)
            digests = {r.digest() for r in replicas.values()}
            assert len(digests) == 1
            for replica in replicas.values():
                assert (replica.snapshot("tools") or AWSet()) == everything

    trio.run(scenario)


# -- the same code against LockedContainer and a replicated container ----------------------------


def register(s: Any) -> None:
    s.add("tool-x")
    s.add("tool-y")
    s.discard("tool-x")


def register_many(s: Any) -> None:
    s |= {"a", "b", "c"}
    s -= {"b"}


def toggle(s: Any) -> None:
    if "tool-x" in s:
        s.remove("tool-x")
    else:
        s.add("tool-x")


def reset(s: Any) -> None:
    s.clear()
    s.add(("only", len(s)))


def prune(s: Any) -> None:
    for element in [e for e in s if isinstance(e, str) and e < "b"]:
        s.discard(element)


@pytest.mark.parametrize(
    "functions",
    [[register], [register_many, prune], [toggle, toggle, toggle], [register, reset, toggle]],
    ids=lambda fs: "+".join(f.__name__ for f in fs),
)
async def test_same_code_runs_against_locked_and_replicated_containers(
    functions: list[Callable[[Any], None]],
) -> None:
    """The same user functions, unchanged, give the same values and changes on a
    LockedContainer(set()) and on a replicated AWSet container."""
    locked: LockedContainer[set[Any]] = LockedContainer(set())
    async with Replica.open("a") as replica:
        replicated = replica.container("tools", AWSet)
        async with locked.subscribe() as locked_changes, replicated.subscribe() as changes:
            for function in functions:
                assert await locked.update(function) == await replicated.update(function)
                assert await locked.get() == await replicated.get()
                mine, theirs = await next_change(locked_changes), await next_change(changes)
                assert (mine.value, mine.previous) == (theirs.value, theirs.previous)


async def test_digest_driven_sync_loses_nothing() -> None:
    """A peer answered with deltas_since(its object_digests()) ends with the join of both
    replicas: nothing it already had is dropped (the resync path after a partition)."""
    async with Replica.open("a") as a, Replica.open("b") as b:
        await a.container("tools", AWSet).update(lambda s: s.add("x"))
        await sync(a, b)
        await b.container("tools", AWSet).update(lambda s: s.add("y"))
        await a.apply_remote(b.deltas_since(a.object_digests()), origin="b")
        assert await a.container("tools", AWSet).get() == frozenset({"x", "y"})
        assert a.digest() == b.digest()
