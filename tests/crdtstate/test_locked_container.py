"""LockedContainer: the lock-based baseline of the seed's StateContainer (DESIGN §3, Containers).

get / update / subscribe / version, with history, compare_and_swap and rollback; subscribers see
the changes made after they subscribed, and a slow subscriber never blocks an update.
"""

from __future__ import annotations

import itertools

import anyio
import anyio.lowlevel
import pytest

from crdtstate import Change, LockedContainer, NoHistoryError, VersionVector
from crdtstate.containers.changes import Subscription

pytestmark = pytest.mark.anyio


class Boom(Exception):
    """Raised by test updaters."""


async def next_change(changes: Subscription) -> Change:
    """The next change, failing the test instead of hanging when none comes."""
    with anyio.fail_after(2):
        return await anext(changes)


def increment(n: int) -> int:
    return n + 1


async def test_get_returns_the_initial_value() -> None:
    """A new container holds its initial value, at version zero, with no history."""
    container = LockedContainer({"a": [1, 2]})
    assert await container.get() == {"a": [1, 2]}
    assert container.version == VersionVector()
    assert container.history() == []


async def test_update_with_returning_and_mutating_updaters() -> None:
    """An updater may return the new value, or mutate the value it receives and return None."""
    numbers = LockedContainer(41)
    assert await numbers.update(increment) == 42
    assert await numbers.get() == 42
    lists = LockedContainer([1])
    assert await lists.update(lambda xs: xs.append(2)) == [1, 2]
    assert await lists.get() == [1, 2]


async def test_values_handed_out_are_copies() -> None:
    """Mutating what get or update returned leaves the state alone."""
    container = LockedContainer({"k": [1]})
    returned = await container.update(lambda d: None)
    returned["k"].append("from update")
    got = await container.get()
    got["k"].append("from get")
    assert await container.get() == {"k": [1]}


async def test_version_increases_with_every_update() -> None:
    """Every update (and rollback) moves the version strictly forward."""
    container = LockedContainer(0, replica_id="me")
    seen = [container.version]
    for _ in range(3):
        await container.update(increment)
        seen.append(container.version)
    await container.rollback(1)
    seen.append(container.version)
    for earlier, later in itertools.pairwise(seen):
        assert earlier < later
    assert seen[-1] == VersionVector({"me": 4})


async def test_history_holds_earlier_values_oldest_first() -> None:
    """history() lists the values before each update, oldest first, bounded by history_size."""
    container = LockedContainer(0)
    for _ in range(3):
        await container.update(increment)
    assert container.history() == [0, 1, 2]
    bounded = LockedContainer(0, history_size=2)
    for _ in range(5):
        await bounded.update(increment)
    assert bounded.history() == [3, 4]


async def test_compare_and_swap() -> None:
    """compare_and_swap applies the updater only when the value equals `expected`."""
    container = LockedContainer(["a"])
    assert await container.compare_and_swap(["a"], lambda xs: xs.append("b")) is True
    assert await container.get() == ["a", "b"]
    version = container.version
    assert await container.compare_and_swap(["a"], lambda xs: xs.append("c")) is False
    assert await container.get() == ["a", "b"]
    assert container.version == version
    assert container.history() == [["a"]]


async def test_rollback_restores_earlier_values() -> None:
    """rollback(steps) restores the value held `steps` updates ago, and is itself a change."""
    container = LockedContainer(0)
    for _ in range(3):
        await container.update(increment)
    async with container.subscribe() as changes:
        assert await container.rollback(2) == 1
        change = await next_change(changes)
    assert await container.get() == 1
    assert (change.value, change.previous) == (1, 3)
    assert container.history() == [0]
    assert await container.rollback() == 0
    assert container.history() == []


@pytest.mark.parametrize("steps", [0, -1, 3, 100])
async def test_rollback_beyond_history_raises(steps: int) -> None:
    """rollback with more steps than the history holds (or fewer than 1) raises NoHistoryError
    and changes nothing."""
    container = LockedContainer(0)
    await container.update(increment)
    await container.update(increment)
    version = container.version
    with pytest.raises(NoHistoryError):
        await container.rollback(steps)
    assert await container.get() == 2
    assert container.version == version
    assert container.history() == [0, 1]


async def test_rollback_of_a_fresh_container_raises() -> None:
    """A container that was never updated has no history to roll back to."""
    with pytest.raises(NoHistoryError):
        await LockedContainer("x").rollback()


async def test_updater_that_raises_changes_nothing() -> None:
    """An updater that raises leaves value, version and history unchanged, notifies nobody,
    and its exception reaches the caller."""
    container = LockedContainer({"tool-a"})
    await container.update(lambda s: s.add("tool-b"))
    version, history = container.version, container.history()
    error = Boom("nope")

    def failing(s: set[str]) -> None:
        s.add("tool-c")
        s.discard("tool-a")
        raise error

    async with container.subscribe() as changes:
        with pytest.raises(Boom) as caught:
            await container.update(failing)
        assert caught.value is error
        with pytest.raises(Boom):
            await container.compare_and_swap({"tool-a", "tool-b"}, failing)
        assert await container.get() == {"tool-a", "tool-b"}
        assert container.version == version
        assert container.history() == history
        await container.update(lambda s: s.add("tool-d"))
        change = await next_change(changes)
    assert change.value == {"tool-a", "tool-b", "tool-d"}
    assert change.previous == {"tool-a", "tool-b"}


async def test_subscribers_see_changes_made_after_subscribing() -> None:
    """A subscriber receives each later change with its value, previous value, origin and
    version, and not the changes made before it subscribed."""
    container = LockedContainer(0, replica_id="node-1")
    await container.update(increment)
    async with container.subscribe() as first, container.subscribe() as second:
        await container.update(increment)
        await container.update(lambda n: n * 10)
        for changes in (first, second):
            one = await next_change(changes)
            two = await next_change(changes)
            assert (one.value, one.previous, one.origin) == (2, 1, "node-1")
            assert (two.value, two.previous, two.origin) == (20, 2, "node-1")
            assert one.version == VersionVector({"node-1": 2})
            assert two.version == VersionVector({"node-1": 3}) == container.version
            assert one.skipped == two.skipped == 0


async def test_change_values_are_snapshots() -> None:
    """A change carries the value at that update, not a reference to later state."""
    container = LockedContainer([0])
    async with container.subscribe() as changes:
        await container.update(lambda xs: xs.append(1))
        await container.update(lambda xs: xs.append(2))
        first = await next_change(changes)
    assert first.value == [0, 1]
    assert first.previous == [0]


async def test_unsubscribed_feed_gets_nothing_more() -> None:
    """After its `async with` block a subscription stops receiving; others still do."""
    container = LockedContainer(0)
    async with container.subscribe() as stays:
        async with container.subscribe() as leaves:
            await container.update(increment)
        await container.update(increment)
        assert [(await next_change(stays)).value for _ in range(2)] == [1, 2]
    assert (await next_change(leaves)).value == 1
    with pytest.raises(TimeoutError), anyio.fail_after(0.05):
        await anext(leaves)


@pytest.mark.parametrize(("queue_size", "updates"), [(1, 10), (3, 10), (4, 60)])
async def test_slow_subscriber_gets_coalesced_changes(queue_size: int, updates: int) -> None:
    """A subscriber that reads nothing while updates pile up receives at most queue_size
    changes: the last one carries the latest value and counts the changes it skipped; no
    change is lost from the account, and each previous is the value before it."""
    container = LockedContainer(0)
    async with container.subscribe(queue_size=queue_size) as changes:
        for _ in range(updates):
            await container.update(increment)
        received = []
        while not received or received[-1].value != updates:
            received.append(await next_change(changes))
        await container.update(increment)
        after = await next_change(changes)
    assert len(received) <= queue_size
    assert received[-1].skipped > 0
    assert sum(1 + c.skipped for c in received) == updates
    assert received[0].previous == 0
    for earlier, later in itertools.pairwise(received):
        assert later.previous == earlier.value
        assert earlier.version < later.version
    assert received[-1].version == VersionVector({"local": updates})
    assert (after.value, after.previous, after.skipped) == (updates + 1, updates, 0)


async def test_publisher_never_blocks_on_a_stalled_subscriber() -> None:
    """Updates complete promptly while a subscriber with a tiny queue never reads."""
    container = LockedContainer(0)
    async with container.subscribe(queue_size=1) as stalled, container.subscribe() as _:
        with anyio.fail_after(5):
            for _ in range(1000):
                await container.update(increment)
        change = await next_change(stalled)
    assert (change.value, change.previous, change.skipped) == (1000, 0, 999)


async def test_concurrent_updates_are_serialized() -> None:
    """Concurrent updates from many tasks are applied one at a time: none is lost."""
    container = LockedContainer({"hits": 0})

    def hit(state: dict[str, int]) -> None:
        state["hits"] += 1

    async def worker() -> None:
        for _ in range(10):
            await container.update(hit)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as nursery:
        for _ in range(20):
            nursery.start_soon(worker)
    assert await container.get() == {"hits": 200}
    assert container.version == VersionVector({"local": 200})
