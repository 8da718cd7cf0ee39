"""A replica kept in memory and restarted with the same id (DESIGN §3, Replica and storage: a
restarted replica must never reuse a dot or a sequence number).

Each in-memory run writes under its own name (`Replica.writer`: the id, "~" and random
letters), so a restart that lost everything, updating while cut off, can never collide with
what its earlier run wrote: once healed nothing is lost and nothing is counted twice, for every
kind. A durable replica keeps writing as its id, since its counters survive in its database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crdtstate import AWSet, GCounter, GSet, PNCounter, Replica, VersionVector
from crdtstate.types import Crdt

from .type_scenarios import KINDS, Kind, Op, joined

pytestmark = pytest.mark.anyio

RESTARTS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


async def run_ops(replica: Replica, kind: Kind, ops: list[Op]) -> tuple[str, list[int]]:
    """Apply `ops` through `replica`'s container, one update each, as the handle's writer.

    Returns that writer name and, for counters, each update's change of the local value.
    """
    container = replica.container("obj", kind.cls)
    writers: set[str] = set()
    changes: list[int] = []
    for op in ops:

        def updater(handle: Any, op: Op = op) -> None:
            writers.add(handle._replica)  # the name the container bound this update to
            handle._record(op(handle.state, handle._replica))

        before = await container.get()
        after = await container.update(updater)
        if kind.cls in (GCounter, PNCounter):
            changes.append(after - before)
    assert len(writers) <= 1
    return (writers.pop() if writers else replica.writer), changes


async def heal(x: Replica, y: Replica) -> None:
    """A digest exchange both ways, as a session does on connect."""
    await y.apply_remote(x.deltas_since(y.object_digests()), x.id)
    await x.apply_remote(y.deltas_since(x.object_digests()), y.id)


def replay(kind: Kind, writer: str, ops: list[Op], start: Crdt | None = None) -> Crdt:
    state = start.copy() if start is not None else kind.cls()
    for op in ops:
        op(state, writer)
    return state


@pytest.mark.parametrize("kind", KINDS, ids=repr)
@RESTARTS
@given(data=st.data())
def test_a_restart_with_the_same_id_while_cut_off_loses_and_double_counts_nothing(
    kind: Kind, data: st.DataObject
) -> None:
    """a updates and b receives it all; a is killed and restarted in memory with its id, and
    updates while cut off from b, which updates too; after a digest exchange both hold the join
    of the three runs' updates, each run under its own name: a counter's value is the sum of
    every update's change, and a set holds everything either side held before the heal."""
    ops = st.lists(kind.ops, max_size=6)
    before = data.draw(ops, label="a's updates before the crash")
    restarted_ops = data.draw(ops, label="the restarted a's updates, cut off")
    b_ops = data.draw(ops, label="b's updates, cut off")

    async def scenario() -> None:
        async with Replica.open("b") as b:
            async with Replica.open("a") as a:
                first, changes = await run_ops(a, kind, before)
                await heal(a, b)  # everything a acknowledged reached b before the crash
            async with Replica.open("a") as restarted:
                second, restarted_changes = await run_ops(restarted, kind, restarted_ops)
                b_writer, b_changes = await run_ops(b, kind, b_ops)
                held_before_heal = [r.snapshot("obj") for r in (restarted, b)]
                await heal(restarted, b)
                final = [r.snapshot("obj") for r in (restarted, b)]

        assert final[0] == final[1]
        if kind.cls in (GCounter, PNCounter):
            assert final[0].value == sum(changes + restarted_changes + b_changes)
        if kind.cls in (GSet, AWSet):
            for held in held_before_heal:
                assert held is None or held.value <= final[0].value
        assert first != second and first.startswith("a~") and second.startswith("a~")
        first_run = replay(kind, first, before)  # in the order the runs made them (HLC)
        restarted_run = replay(kind, second, restarted_ops)
        expected = joined(replay(kind, b_writer, b_ops, start=first_run), restarted_run)
        assert final[0].value == expected.value

    trio.run(scenario)


async def test_a_durable_replica_writes_as_its_id_and_reopens_where_it_left(
    tmp_path: Path,
) -> None:
    """A database keeps the counters, so a durable replica's name is its id across runs."""
    path = tmp_path / "a.db"
    for expected in (2, 4):
        async with Replica.open("a", path) as a:
            assert a.writer == "a"
            counter = a.container("hits", GCounter)
            await counter.update(lambda c: c.increment(2))
            assert counter.state.counts == {"a": expected}


async def test_local_changes_keep_the_user_facing_id_as_origin() -> None:
    """Only dots and counter entries carry the writer name: `id` and a change's origin do not."""
    async with Replica.open("a") as a:
        assert a.id == "a" and a.writer != "a"
        tools = a.container("tools", AWSet)
        async with tools.subscribe() as changes:
            await tools.update(lambda s: s.add("search"))
            change = await changes.__anext__()
        assert change.origin == "a" and change.version == VersionVector({a.writer: 1})
