"""Local updates are always cancellation points, and schedule points once an interval passed."""

from __future__ import annotations

import math

import anyio
import trio

from crdtstate import Replica
from crdtstate.pacing import SchedulePacer
from crdtstate.types import PNCounter


async def _runs_of_a_neighbour_during(pacer: SchedulePacer, checkpoints: int) -> int:
    """How many times another task ran while one task called `pacer.checkpoint()` in a loop."""
    runs = 0

    async def neighbour() -> None:
        nonlocal runs
        while True:
            runs += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(neighbour)
        await trio.lowlevel.checkpoint()  # the neighbour starts
        before = runs
        for _ in range(checkpoints):
            await pacer.checkpoint()
        during = runs - before
        nursery.cancel_scope.cancel()
    return during


def test_a_schedule_point_only_once_the_interval_has_passed() -> None:
    async def main() -> None:
        never = SchedulePacer(interval=math.inf)
        await never.checkpoint()  # the first is always a schedule point
        assert await _runs_of_a_neighbour_during(never, 100) == 0
        always = SchedulePacer(interval=0.0)
        assert await _runs_of_a_neighbour_during(always, 100) >= 99

    trio.run(main)


def test_every_checkpoint_is_a_cancellation_point() -> None:
    async def main() -> None:
        pacer = SchedulePacer(interval=math.inf)
        await pacer.checkpoint()
        reached = False
        with trio.CancelScope() as scope:
            scope.cancel()
            await pacer.checkpoint()  # no schedule point is due: it still raises Cancelled
            reached = True
        assert scope.cancelled_caught and not reached

    trio.run(main)


def test_a_loop_of_updates_lets_other_tasks_run() -> None:
    async def main() -> None:
        async with Replica.open("a") as replica, trio.open_nursery() as nursery:
            counter = replica.container("n", PNCounter)
            await counter.update(lambda c: c.increment(1))  # a schedule point: the first
            ran = trio.Event()
            nursery.start_soon(_set, ran)
            updates = 1
            while not ran.is_set() and updates < 1_000_000:  # about a millisecond of updates
                await counter.update(lambda c: c.increment(1))
                updates += 1
            assert ran.is_set()
            assert await counter.get() == updates

    trio.run(main)


async def _set(event: trio.Event) -> None:
    event.set()


def test_a_checkpoint_is_a_cancellation_point_under_asyncio_too() -> None:
    """The pacer calls trio directly only inside trio's run loop; under asyncio it goes
    through anyio (a trio call there would raise)."""

    async def main() -> None:
        pacer = SchedulePacer(interval=math.inf)
        await pacer.checkpoint()
        await pacer.checkpoint()  # no schedule point due: the cancellation-point path
        reached = False
        with anyio.CancelScope() as scope:
            scope.cancel()
            await pacer.checkpoint()
            reached = True
        assert scope.cancelled_caught and not reached

    anyio.run(main, backend="asyncio")
