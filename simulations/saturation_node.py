"""One replica process of the saturation benchmark (run by `bench_saturation.py`, not by hand).

A node with `--update` makes update i at `start + i / rate` (at most `PACE_SLACK` early) for
`duration` seconds, cycling through a PNCounter increment (i % 3 == 0), an AWSet add of i that
also drops i - 3 * WINDOW (1), and an ORMap[str, int] put of i under one of KEYS keys (2), so
that all three objects stay small and the run measures the mesh, not the state's size. When
behind schedule it runs updates back to back and stops at the deadline; then it writes `done` =
the number made. Its objects
are named after it (`hits/<id>`), so several nodes can update at once. For each `--watch`ed
node, a node learns from each Change how far that node's objects have got (the counter's value,
the set's and the map's largest i), which, as one origin's groups arrive in order, tells when
every update was seen.

Times are `time.monotonic()`, one clock for every process on Linux. Prints a JSON line with
its URL, one when its peers are connected, and one with its measurements (then keeps serving
until killed, so that its peers can finish).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import time
from collections.abc import Callable
from typing import Any

import trio

from crdtstate import AWSet, LWWRegister, ORMap, PNCounter, Replica
from transport import Mesh, open_mesh

WINDOW = 16  # set elements kept
# An update less than this far ahead of its due time is made at once: a sleep per update costs
# a pass through the scheduler and an epoll wait (tens of us), which at rates near what a node
# can do took the CPU the updates needed (the made rate just past saturation dipped below the
# one at higher asked rates, whose updaters never sleep). The asked rate is still kept: no
# update is made more than this early.
PACE_SLACK = 0.001
KEYS = 16  # map keys written in turn


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def make_updates(replica: Replica, rate: float, duration: float) -> list[float]:
    me = replica.id
    hits = replica.container(f"hits/{me}", PNCounter)
    tags = replica.container(f"tags/{me}", AWSet)
    config = replica.container(f"config/{me}", ORMap[str, int])

    def tag(s: Any, i: int) -> None:
        s.add(i)
        s.discard(i - 3 * WINDOW)

    made: list[float] = []
    start = trio.current_time()
    deadline = start + duration
    i = 0
    while True:
        due = start + i / rate
        if due >= deadline or trio.current_time() >= deadline:
            break
        if due - trio.current_time() > PACE_SLACK:  # else on time or behind: no sleep
            await trio.sleep_until(due)
        if i % 3 == 0:
            await hits.update(lambda c: c.increment())
        elif i % 3 == 1:
            await tags.update(lambda s, i=i: tag(s, i))
        else:
            await config.update(lambda m, i=i: m.__setitem__(f"k{(i // 3) % KEYS}", i))
        made.append(time.monotonic())
        i += 1
    done = replica.container(f"done/{me}", LWWRegister[int])
    await done.update(lambda r: r.assign(len(made)))
    return made


class Progress:
    """Per update index, when this watcher first knew of it."""

    def __init__(self, capacity: int) -> None:
        self.seen: list[float | None] = [None] * capacity
        self.reached = [-1, -1, -1]  # per kind (i % 3): the largest index seen
        self.done: int | None = None
        self.changed = trio.Event()

    def reach(self, kind: int, index: int) -> None:
        now = time.monotonic()
        first = kind if self.reached[kind] < 0 else self.reached[kind] + 3
        for i in range(first, min(index, len(self.seen) - 1) + 1, 3):
            self.seen[i] = now
        self.reached[kind] = max(self.reached[kind], index)
        self.changed.set()
        self.changed = trio.Event()

    def complete(self) -> bool:
        if self.done is None:
            return False
        return all(self.reached[k] >= _last_of_kind(self.done, k) for k in range(3))


def _last_of_kind(total: int, kind: int) -> int:
    """The largest index below `total` of this kind, or -1."""
    last = total - 1
    while last >= 0 and last % 3 != kind:
        last -= 1
    return last


async def watch(replica: Replica, origin: str, capacity: int, wait: float) -> Progress:
    """How far the updates of node `origin` got here, waiting at most `wait` s for all."""
    progress = Progress(capacity)
    followers: list[tuple[Any, Callable[[Any], None]]] = [
        (replica.container(f"hits/{origin}", PNCounter), lambda v: progress.reach(0, 3 * (v - 1))),
        (replica.container(f"tags/{origin}", AWSet), lambda v: v and progress.reach(1, max(v))),
        (
            replica.container(f"config/{origin}", ORMap[str, int]),
            lambda v: v and progress.reach(2, max(v.values())),
        ),
    ]

    async def follow(container: Any, on_value: Callable[[Any], None]) -> None:
        async with container.subscribe(queue_size=1) as changes:
            async for change in changes:
                on_value(change.value)

    async def follow_done() -> None:
        async with replica.container(f"done/{origin}", LWWRegister[int]).subscribe(1) as changes:
            async for change in changes:
                progress.done = change.value
                progress.changed.set()

    with trio.move_on_after(wait):
        async with trio.open_nursery() as nursery:
            for container, on_value in followers:
                nursery.start_soon(follow, container, on_value)
            nursery.start_soon(follow_done)
            while not progress.complete():
                await progress.changed.wait()
            nursery.cancel_scope.cancel()
    return progress


def freeze_startup_heap() -> None:
    """What a long-running server does once started: move every object alive now (the
    imported modules of trio, websockets, pydantic, pycrdt: ~10^5 objects) out of the cyclic
    collector's reach (`gc.freeze`). A full collection then scans only what was made since,
    so its pause drops from tens of milliseconds to a few; unfrozen, those pauses are what
    this benchmark's p99 measured (70 ms at 20,000 updates/s vs 11 ms frozen)."""
    gc.collect()
    gc.freeze()


def traffic(mesh: Mesh, cpu_since: float) -> dict[str, float]:
    """Frames and bytes this node sent and received (all peers), and its CPU seconds."""
    stats = mesh.stats()
    return {
        "frames_out": sum(s.frames_out for s in stats),
        "frames_in": sum(s.frames_in for s in stats),
        "bytes_out": sum(s.bytes_out for s in stats),
        "bytes_in": sum(s.bytes_in for s in stats),
        "cpu": time.process_time() - cpu_since,
    }


async def run(args: argparse.Namespace) -> None:
    async with Replica.open(args.id) as replica, open_mesh(replica, peers=args.peer) as mesh:
        emit(url=mesh.url)
        with trio.fail_after(30):
            await mesh.wait_for_peers(2)
        emit(ready=True)
        if args.gc_freeze:
            freeze_startup_heap()
        cpu = time.process_time()
        made: list[float] = []
        watched: dict[str, Progress] = {}

        async def update() -> None:
            await trio.sleep(0.5)  # let the other nodes see their peers too
            made.extend(await make_updates(replica, args.rate, args.duration))

        async def follow(origin: str) -> None:
            capacity = math.ceil(args.rate * args.duration) + 3
            watched[origin] = await watch(replica, origin, capacity, args.duration + args.grace)

        async with trio.open_nursery() as nursery:
            if args.update:
                nursery.start_soon(update)
            for origin in args.watch:
                nursery.start_soon(follow, origin)
        emit(
            id=args.id,
            made=made,
            seen={o: p.seen for o, p in watched.items()},
            done={o: p.done for o, p in watched.items()},
            complete={o: p.complete() for o, p in watched.items()},
            **traffic(mesh, cpu),
        )
        await trio.sleep_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--id", required=True)
    parser.add_argument("--update", action="store_true", help="make updates at --rate")
    parser.add_argument("--watch", action="append", default=[], help="a node to watch")
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--rate", type=float, required=True, help="this node's updates/s")
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--gc-freeze", action="store_true", help="freeze the start-up heap")
    trio.run(run, parser.parse_args())
