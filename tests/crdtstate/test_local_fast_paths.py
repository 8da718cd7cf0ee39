"""The local update path's shortcuts, each against the general route it stands for.

A container update's group is appended without a dict (`DeltaBuffer.append_local`), a map
delete's delta is lazy (`removal_delta`), a put takes the clock's common tick inline
(`HybridLogicalClock.tick_at`) and falls back to the general write when this replica's dots
are out of order, and `update` looks the handle factory up once per class (`UpdatePlan`).
Each property replays random histories both ways and requires the same states, deltas,
bytes and buffer contents.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from crdtstate import Replica, codec
from crdtstate.buffer import DeltaBuffer
from crdtstate.containers import handle_registry
from crdtstate.containers.handle_registry import register_handle
from crdtstate.types import GCounter, PNCounter
from crdtstate.types.clocks import CausalContext, Dot
from crdtstate.types.hlc import HybridLogicalClock
from crdtstate.types.mapstore import MapStore

from .test_map_fast_paths import SAME, SESSIONS, Session

# -- the buffer: a one-object local group ------------------------------------------------------

buffer_ops = st.lists(
    st.one_of(
        st.tuples(st.just("local"), st.sampled_from("ab"), st.integers(1, 50)),
        st.tuples(st.just("remote"), st.sampled_from("ab"), st.integers(1, 50)),
        st.tuples(st.just("discard"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("bytes"), st.just(""), st.just(0)),
    ),
    max_size=60,
)


@SAME
@given(ops=buffer_ops, max_groups=st.sampled_from([2, 3, 8, None]), max_bytes=st.integers(0, 400))
def test_append_local_is_a_deferred_append_of_one_object(
    ops: list[Any], max_groups: int | None, max_bytes: int
) -> None:
    fast = DeltaBuffer(max_bytes=max_bytes, max_groups=max_groups)
    slow = DeltaBuffer(max_bytes=max_bytes, max_groups=max_groups)
    for op, name, n in ops:
        if op == "local":
            delta = GCounter({"me": n})
            assert fast.append_local("me", name, delta) == slow.append(
                "me", {name: delta.copy()}, deferred=True
            )
        elif op == "remote":
            delta = GCounter({"peer": n})
            fast.append("peer", {name: delta})
            slow.append("peer", {name: delta.copy()})
        elif op == "discard":
            fast.discard_through(fast.sequence - n)
            slow.discard_through(slow.sequence - n)
        else:
            assert fast.bytes == slow.bytes
        assert describe(fast) == describe(slow)
        for after in range(fast.floor, fast.sequence + 1):
            assert fast.collect(after) == slow.collect(after)
            assert fast.collect(after, exclude_origin="me") == slow.collect(
                after, exclude_origin="me"
            )


def describe(buffer: DeltaBuffer) -> Any:
    return (
        buffer.sequence,
        buffer.floor,
        buffer.dropped_for_bound,
        buffer.folds,
        [
            (g.sequence, g.origin, g.size, g.first, g.deltas)
            for g in buffer.groups_after(buffer.floor - 1)
        ],
    )


def test_a_one_object_group_hands_out_a_fresh_dict_that_changes_nothing() -> None:
    buffer = DeltaBuffer()
    delta = GCounter({"me": 1})
    buffer.append_local("me", "hits", delta)
    (group,) = buffer.groups_after(0)
    handed = group.deltas
    handed["other"] = GCounter({"me": 2})
    assert group.deltas == {"hits": delta}


# -- a map delete's lazy delta -----------------------------------------------------------------

map_steps = st.lists(
    st.tuples(
        st.sampled_from(["put", "put", "remove", "merge"]),
        st.sampled_from(("r1", "r2")),
        st.sampled_from("abc"),
        st.integers(0, 3),
    ),
    max_size=30,
)


@SAME
@given(steps=map_steps)
def test_a_lazy_delete_delta_is_the_eager_one(steps: list[Any]) -> None:
    """`ORMap.remove` returns a lazy delta: built, it is the map with an empty store and the
    context of the dots the key held plus the delete's own event dot (as it was built
    before), with the same bytes, and it joins alike."""
    maps = {r: SESSIONS() for r in ("r1", "r2")}
    for op, replica, key, n in steps:
        state = maps[replica]
        if op == "put":
            state.put(key, Session(user=replica, expires=n), replica=replica)
        elif op == "merge":
            state.merge(maps["r2" if replica == "r1" else "r1"].copy())
        else:
            held = state.get(key)
            observed = [] if held is None else list(held.store.dots())
            event = state.context.next_dot(replica)
            before = state.copy()
            lazy = state.remove(key, replica=replica)
            if not observed:
                assert lazy.is_bottom()
                continue
            eager = SESSIONS._of(MapStore(SESSIONS.value_cls), CausalContext.of([*observed, event]))
            assert not lazy.is_bottom()
            assert codec.encode(lazy) == codec.encode(eager)
            assert lazy == eager
            joined_lazy, joined_eager = before.copy(), before.copy()
            joined_lazy.merge(lazy)
            joined_eager.merge(eager)
            assert joined_lazy == joined_eager == state


# -- the clock's common tick, inline -----------------------------------------------------------


def reference_tick(clock: HybridLogicalClock, physical: int, remote: Any) -> tuple[int, int]:
    """Kulkarni et al.'s rules as written, with no shortcut."""
    if remote is None:
        if physical > clock.l:
            clock.l, clock.c = physical, 0
        else:
            clock.c += 1
        return clock.l, clock.c
    rl, rc = remote[0], remote[1]
    top = max(clock.l, rl, physical)
    if top == clock.l == rl:
        clock.c = max(clock.c, rc) + 1
    elif top == clock.l:
        clock.c += 1
    elif top == rl:
        clock.c = rc + 1
    else:
        clock.c = 0
    clock.l = top
    return top, clock.c


@SAME
@given(
    events=st.lists(
        st.tuples(
            st.integers(0, 20),
            st.none() | st.tuples(st.integers(0, 20), st.integers(0, 3)),
        ),
        max_size=40,
    )
)
def test_tick_at_follows_the_rules(events: list[Any]) -> None:
    fast, slow = HybridLogicalClock(), HybridLogicalClock()
    for physical, remote in events:
        assert fast.tick_at(physical, remote) == reference_tick(slow, physical, remote)
        assert (fast.l, fast.c) == (slow.l, slow.c)


# -- a put when this replica's own dots are out of order -----------------------------------------


@SAME
@given(puts=st.lists(st.sampled_from("abc"), min_size=1, max_size=8), gap=st.integers(2, 5))
def test_a_put_with_own_dots_out_of_order_is_the_general_write(puts: list[str], gap: int) -> None:
    """A context holding a later dot of this replica (a peer relayed it back before the
    earlier ones) sends a put to the general write; both routes end equal."""
    stray = SESSIONS()
    stray.context = CausalContext(cloud=[Dot("r1", gap)])
    fast, slow = SESSIONS(), SESSIONS()
    fast.merge(stray.copy())
    slow.merge(stray.copy())
    walls = iter(range(1000, 2000)), iter(range(1000, 2000))
    fast_clock = HybridLogicalClock(lambda: next(walls[0]))
    slow_clock = HybridLogicalClock(lambda: next(walls[1]))
    for n, key in enumerate(puts):
        value = Session(user="u", expires=n)
        got = fast.put(key, value, replica="r1", clock=fast_clock)
        want = slow.apply(key, lambda r, v=value: r.assign(v, replica="r1", clock=slow_clock))
        assert got == want
        assert codec.encode(got) == codec.encode(want)
        assert fast == slow
        assert codec.encode(fast) == codec.encode(slow)


# -- update's plan: the handle factory looked up once per class ----------------------------------


class Tally(PNCounter):
    """A counter class with no handle of its own (it inherits the counter's)."""

    __slots__ = ()


class TallyHandle:
    def __init__(self, state: Tally, replica: str, record: Any) -> None:
        self.state, self.replica, self.record = state, replica, record

    def bump(self) -> None:
        self.record(self.state.increment(10, replica=self.replica))


def test_a_handle_registered_after_updates_is_used_by_the_next_update() -> None:
    async def main() -> None:
        async with Replica.open("a") as replica:
            tally = replica.container("t", Tally)
            await tally.update(lambda c: c.increment(1))  # the counter's handle, planned
            generation = handle_registry.generation
            register_handle(Tally, TallyHandle)
            try:
                assert handle_registry.generation == generation + 1
                assert await tally.update(lambda h: h.bump()) == 11
            finally:
                del handle_registry._registered[Tally]
                handle_registry._resolved.clear()
                handle_registry.generation += 1
            assert await tally.update(lambda c: c.increment(1)) == 12

    trio.run(main)


@pytest.mark.parametrize("fail", [False, True])
def test_an_update_of_a_map_still_restores_on_failure(fail: bool) -> None:
    """The keyed savepoint taken without `savepoint()`'s dispatch still restores."""

    async def main() -> None:
        async with Replica.open("a") as replica:
            sessions = replica.container("s", SESSIONS)
            await sessions.update(lambda m: m.__setitem__("k", Session(user="u", expires=1)))
            before = replica.state_of("s").copy()

            def updater(m: Any) -> None:
                m["k"] = Session(user="v", expires=2)
                m.pop("k")
                m["j"] = Session(user="w", expires=3)
                if fail:
                    raise RuntimeError("halfway")

            if fail:
                with pytest.raises(RuntimeError):
                    await sessions.update(updater)
                assert replica.state_of("s") == before
                assert replica.state_of("s")._savepoint is None
            else:
                await sessions.update(updater)
                assert dict(await sessions.get()) == {"j": Session(user="w", expires=3)}

    trio.run(main)
