"""What durability costs: update throughput of durable replicas next to in-memory ones, and
the time to reopen a large replica.

    python -m simulations.bench_durability [--quick]

Takes about 30 s (--quick: a few seconds). Exit status: see `simulations/targets.py`
(target: concurrent durable updates at least 0.3x as fast as in memory).

Throughput: PNCounter increments through `container.update`, by one sequential updater and by
64 concurrent ones, for an in-memory replica and for durable ones at both durability settings
(best of three runs each, since a shared machine is noisy). Reopen: a replica holding one AWSet
of 100,000 elements and 10,000 PNCounter objects (standing in for 10,000 map keys until the
ORMap lands), reopened after a clean close (from the snapshot) and from a crash image (the
database and WAL copied while it ran with the journal unfolded: what SIGKILL leaves).
Snapshot pauses: the longest event-loop stall while that set is snapshotted under updates.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import trio

from crdtstate import AWSet, PNCounter, Replica, codec
from crdtstate.storage import Durability, SnapshotPolicy
from simulations.output import Column, Table
from simulations.targets import announce, bench_parser, finish, progress

CONCURRENT_TASKS = 64
RATIO_FLOOR = 0.3  # concurrent durable updates must reach this fraction of in-memory ones
NEVER = SnapshotPolicy(groups=10**12, bytes=10**15)


async def rate(path: Path | None, tasks: int, updates: int, durability: Durability) -> float:
    """Updates per second with `tasks` concurrent updaters sharing `updates` increments."""
    async with Replica.open("bench", path, durability=durability) as replica:
        hits = replica.container("hits", PNCounter)
        await hits.update(lambda n: n.increment())  # warm up: create the object and the file
        per_task = updates // tasks

        async def updater() -> None:
            for _ in range(per_task):
                await hits.update(lambda n: n.increment())

        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(updater)
        elapsed = time.perf_counter() - started
        assert await hits.get() == per_task * tasks + 1
    return per_task * tasks / elapsed


async def best_rate(
    directory: Path, durable: Durability | None, tasks: int, updates: int, runs: int = 3
) -> float:
    best = 0.0
    for run in range(runs):
        path = None if durable is None else directory / f"rate-{durable}-{tasks}-{run}.db"
        best = max(best, await rate(path, tasks, updates, durable or Durability.PROCESS))
    return best


async def build_large(path: Path, elements: int, counters: int, crash_image: Path) -> None:
    """Fill a replica, copy its files while it runs (a crash image), then close it cleanly."""
    async with Replica.open("big", path, snapshots=NEVER) as replica:
        tools = replica.container("elements", AWSet)
        batch = 10_000
        for start in range(0, elements, batch):
            await tools.update(
                lambda s, start=start: [s.add(f"element-{i}") for i in range(start, start + batch)]
            )

        async def bump(names: range) -> None:
            for i in names:
                await replica.container(f"key-{i}", PNCounter).update(
                    lambda n, i=i: n.increment(i + 1)
                )

        async with trio.open_nursery() as nursery:
            for task in range(CONCURRENT_TASKS):
                nursery.start_soon(bump, range(task, counters, CONCURRENT_TASKS))
        for suffix in ("", "-wal"):
            source = path.with_name(path.name + suffix)
            if source.exists():
                shutil.copyfile(source, crash_image.with_name(crash_image.name + suffix))


async def reopen_seconds(path: Path, elements: int, counters: int) -> float:
    started = time.perf_counter()
    async with Replica.open(path=path) as replica:
        elapsed = time.perf_counter() - started
        assert len(await replica.container("elements", AWSet).get()) == elements
        assert len([n for n in replica.names() if n.startswith("key-")]) == counters
    return elapsed


async def snapshot_pauses(path: Path, elements: int, snapshots: int) -> tuple[float, float, int]:
    """The longest stall of the event loop while a durable replica holding an AWSet of
    `elements` takes `snapshots` snapshots (a heartbeat sleeps 1 ms and measures how late it
    wakes), beside how long encoding that set takes when done on the loop (as it once was)."""
    every = 50
    policy = SnapshotPolicy(groups=every, bytes=10**15)
    async with Replica.open("pauses", path, snapshots=policy) as replica:
        tools = replica.container("elements", AWSet)
        await tools.update(lambda s: [s.add(f"element-{i}") for i in range(elements)])
        worst = 0.0
        running = True

        async def heartbeat() -> None:
            nonlocal worst
            while running:
                started = time.perf_counter()
                await trio.sleep(0.001)
                worst = max(worst, time.perf_counter() - started - 0.001)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(heartbeat)
            for i in range(every * snapshots):
                await tools.update(lambda s, i=i: s.add(f"extra-{i}"))
                await trio.sleep(0.0005)  # an update stream, not a tight loop
            running = False
        started = time.perf_counter()
        codec.encode(tools.state)
        on_loop = time.perf_counter() - started
        taken = replica._journal.snapshots if replica._journal is not None else 0
    return worst, on_loop, taken


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


THROUGHPUT = Table(
    Column("replica", 28, align="<"),
    Column("1 updater", 12),
    Column(f"{CONCURRENT_TASKS} updaters", 14),
    indent="  ",
)


async def main(quick: bool) -> int:
    scale = 10 if quick else 1
    sequential, concurrent = 2_000 // scale, 12_800 // scale
    elements, counters = 100_000 // scale, 10_000 // scale
    out: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    started = announce("about 5 s" if quick else "about 30 s")  # 1 s and 30 s on a busy VM
    with tempfile.TemporaryDirectory(prefix="bench-durability-") as tmp:
        directory = Path(tmp)
        out("update throughput (PNCounter increments via container.update, best of 3)")
        out(THROUGHPUT.header(rule=False))
        rates: dict[str, tuple[float, float]] = {}
        for label, durable, seq_updates in (
            ("in memory", None, sequential * 5),
            ("durable, process (default)", Durability.PROCESS, sequential),
            ("durable, power (fsync)", Durability.POWER, sequential // 4),
        ):
            progress(f"throughput: {label}")
            one = await best_rate(directory, durable, 1, seq_updates)
            many = await best_rate(directory, durable, CONCURRENT_TASKS, concurrent)
            rates[label] = (one, many)
            out(THROUGHPUT.row(label, f"{one:,.0f}/s", f"{many:,.0f}/s"))
        memory = rates["in memory"][1]
        ratio = rates["durable, process (default)"][1] / memory
        power_ratio = rates["durable, power (fsync)"][1] / memory
        out(f"  concurrent durable / in memory: {ratio:.2f}x process, {power_ratio:.2f}x power")

        path, crash = directory / "large.db", directory / "crash.db"
        progress(f"building a replica of {elements:,} elements and {counters:,} counters")
        building = time.perf_counter()
        await build_large(path, elements, counters, crash)
        built = time.perf_counter() - building
        out(
            f"\nreopen: one AWSet of {elements:,} elements + {counters:,} PNCounter objects"
            f" (built in {built:.1f} s)"
        )
        crash_bytes = size(crash)
        progress("reopening it")
        clean = await reopen_seconds(path, elements, counters)
        out(f"  after a clean close (snapshot, {size(path):,} bytes): {clean:.2f} s")
        from_journal = await reopen_seconds(crash, elements, counters)
        out(
            f"  from a crash image (journal of {elements // 10_000 + counters:,} groups,"
            f" {crash_bytes:,} bytes with WAL): {from_journal:.2f} s"
        )

        progress("snapshotting it under updates")
        worst, on_loop, taken = await snapshot_pauses(directory / "pauses.db", elements, 3)
        out(
            f"\nsnapshots of an AWSet of {elements:,} elements while it is updated ({taken} taken):"
            f"\n  longest event-loop stall: {worst * 1000:.0f} ms"
            f" (encoding the set on the loop would stall it {on_loop * 1000:.0f} ms)"
        )
    target = f"concurrent durable (process) / in memory >= {RATIO_FLOOR}x ({ratio:.2f}x)"
    return finish(started, {target: ratio >= RATIO_FLOOR})


if __name__ == "__main__":
    parser = bench_parser(
        "simulations.bench_durability", __doc__, quick="a tenth of the work, for a smoke run"
    )
    sys.exit(trio.run(main, parser.parse_args().quick))
