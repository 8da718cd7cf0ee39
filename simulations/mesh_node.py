"""One replica process of the mesh benchmark (run by `bench_mesh.py`, not by hand).

Roles: `updater` increments a PNCounter at a fixed rate and records when each value was made;
when behind schedule it runs updates back to back and stops at the deadline (it does not overrun
it to make up the count), then writes `done` = the number made. `watcher` subscribes to the
counter and records when each value became visible, until it has seen `done` values. Times are
`time.monotonic()`, which on Linux is one clock for every process, so they can be subtracted.
Prints one JSON line with its URL when listening and one with its measurements at the end
(including the CPU time it used, which a busy machine does not inflate as it does latency).
`--backend` picks the event loop (trio or asyncio), so the benchmark can compare them.
"""

from __future__ import annotations

import argparse
import json
import time

import anyio

from crdtstate import LWWRegister, PNCounter, Replica, ReplicatedContainer
from transport import open_mesh


async def make_updates(
    replica: Replica, counter: ReplicatedContainer[PNCounter], rate: float, duration: float
) -> list[float]:
    """Increment at `rate` until `duration` has passed; when each update was made."""
    made: list[float] = []
    start = anyio.current_time()
    deadline = start + duration
    while True:
        due = start + len(made) / rate
        now = anyio.current_time()
        if due >= deadline or now >= deadline:
            break
        if due > now:  # behind schedule: no sleep, the next update at once
            await anyio.sleep_until(due)
        await counter.update(lambda n: n.increment())
        made.append(time.monotonic())
    done = replica.container("done", LWWRegister[int])
    await done.update(lambda r: r.assign(len(made)))
    return made


async def watch(
    replica: Replica, counter: ReplicatedContainer[PNCounter], times: list[float]
) -> None:
    """Append to `times` when each counter value became visible, until the updater's `done`
    count has been seen."""
    done: int | None = None
    changed = anyio.Event()

    async def follow_done() -> None:
        nonlocal done, changed
        async with replica.container("done", LWWRegister[int]).subscribe(1) as changes:
            async for change in changes:
                done = change.value
                changed.set()
                changed = anyio.Event()

    async def follow_counter() -> None:
        nonlocal changed
        async with counter.subscribe(queue_size=1) as changes:
            async for change in changes:
                now = time.monotonic()
                times.extend([now] * (change.value - len(times)))
                changed.set()
                changed = anyio.Event()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(follow_done)
        tasks.start_soon(follow_counter)
        while done is None or len(times) < done:
            await changed.wait()
        tasks.cancel_scope.cancel()


async def run(args: argparse.Namespace) -> None:
    async with Replica.open(args.id) as replica, open_mesh(replica, peers=args.peer) as mesh:
        counter = replica.container("hits", PNCounter)
        print(json.dumps({"url": mesh.url}), flush=True)
        with anyio.fail_after(30):
            await mesh.wait_for_peers(args.expect_peers)
        print(json.dumps({"ready": True}), flush=True)
        times: list[float] = []
        cpu_at_start = time.process_time()
        if args.role == "updater":
            await anyio.sleep(0.5)  # let the watchers see the peers too
            times = await make_updates(replica, counter, args.rate, args.duration)
            await anyio.sleep(1.0)
        else:
            with anyio.move_on_after(args.duration + 20):
                await watch(replica, counter, times)
        cpu = time.process_time() - cpu_at_start  # this process's CPU seconds for the run
        print(json.dumps({"id": args.id, "times": times, "cpu": cpu}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--id", required=True)
    parser.add_argument("--role", choices=["updater", "watcher"], required=True)
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--expect-peers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--backend", choices=["trio", "asyncio"], default="trio")
    args = parser.parse_args()
    anyio.run(run, args, backend=args.backend)
