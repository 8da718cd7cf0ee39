"""Delta buffer memory with no peer connected (issue 14): a replica makes many updates that
nobody acknowledges, and the buffer's memory is measured with tracemalloc, folding (the
default `max_groups`) beside the byte bound alone (`max_groups=None`, the baseline), in one run.

The workload is the session registry's: puts (3 in 4) and deletes of session entries on
`--keys` keys of one map, through the replica's synchronous core (no event loop), so the
figures are the buffer's, not a container's. Each figure is the memory the buffer's groups
hold: traced memory with them, minus traced memory once they are all dropped. The target:
folded, the buffer holds no more memory after the most updates than after the fewest times
1.5 (it grows with the keys, not the updates); the baseline is printed, not judged.

    python -m simulations.bench_buffer [--updates 10000 50000 150000] [--keys 2000]
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from dataclasses import dataclass

from crdtstate.buffer import DEFAULT_MAX_GROUPS, DeltaBuffer
from crdtstate.replica_state import ReplicaState
from crdtstate.types import ORMap

from .scale_worker import Session
from .targets import announce, finish, progress

ESTIMATE_SECONDS_PER_100K = 60  # both ways, tracemalloc on, on an idle 2-vCPU VM


@dataclass
class Figure:
    updates: int
    groups: int
    encoded_mib: float
    memory_mib: float
    folds: int
    dropped: int
    seconds: float


def measure(updates: int, keys: int, max_groups: int | None, seed: int = 0) -> Figure:
    """Make `updates` updates with nobody acknowledging; the buffer's memory afterwards."""
    rng = random.Random(seed)
    buffer = DeltaBuffer(max_groups=max_groups)
    state = ReplicaState("r0~abcdefgh", buffer=buffer, incarnation=1)
    kind = ORMap[str, Session]
    tracemalloc.start()
    try:
        start = time.perf_counter()
        for i in range(updates):
            m = state.object("sessions", kind)
            key = f"session-{rng.randrange(keys)}"
            if rng.random() < 0.75:
                value = Session(user=f"user-{i}", expires=1.7e9 + i)
                delta = m.apply(key, lambda reg, v=value: reg.assign(v, replica=state.id))
            else:
                delta = m.remove(key, replica=state.id)
            state.commit_local("sessions", m, delta)
        seconds = time.perf_counter() - start
        figure = Figure(
            updates,
            len(buffer),
            buffer.bytes / 2**20,
            0.0,
            buffer.folds,
            buffer.dropped_for_bound,
            seconds,
        )
        held = tracemalloc.get_traced_memory()[0]
        buffer.discard_through(buffer.sequence)
        figure.memory_mib = (held - tracemalloc.get_traced_memory()[0]) / 2**20
    finally:
        tracemalloc.stop()
    return figure


def table(rows: list[tuple[str, Figure]]) -> str:
    header = (
        f"{'buffer':<28} {'updates':>9} {'groups':>8} {'encoded MiB':>12} "
        f"{'memory MiB':>11} {'folds':>6} {'dropped':>8} {'s':>6}"
    )
    lines = [header, "-" * len(header)]
    for name, f in rows:
        lines.append(
            f"{name:<28} {f.updates:>9,} {f.groups:>8,} {f.encoded_mib:>12.2f} "
            f"{f.memory_mib:>11.1f} {f.folds:>6,} {f.dropped:>8,} {f.seconds:>6.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulations.bench_buffer",
        description=(
            "Measures the memory the delta buffer holds when no peer is connected, folding "
            "beside the byte bound alone, at several numbers of updates."
        ),
    )
    parser.add_argument(
        "--updates",
        type=int,
        nargs="+",
        default=[10_000, 50_000, 150_000],
        help="numbers of updates to measure after (each one a fresh run)",
    )
    parser.add_argument("--keys", type=int, default=2_000, help="session keys in the map")
    parser.add_argument("--quick", action="store_true", help="a small workload (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.updates, args.keys = [1_000, 4_000], 200
    estimate = max(5, round(ESTIMATE_SECONDS_PER_100K * sum(args.updates) / 100_000))
    started = announce(f"about {estimate} s")
    print(
        f"delta buffer, no peer connected: puts/deletes (3:1) on {args.keys:,} keys of one map; "
        f"memory measured with tracemalloc",
        flush=True,
    )
    rows: list[tuple[str, Figure]] = []
    folded: list[Figure] = []
    for n in args.updates:
        progress(f"{n:,} updates, byte bound only")
        rows.append(("byte bound only (baseline)", measure(n, args.keys, None)))
        progress(f"{n:,} updates, folding")
        folded.append(measure(n, args.keys, DEFAULT_MAX_GROUPS))
        rows.append((f"folding, {DEFAULT_MAX_GROUPS:,} groups", folded[-1]))
    print()
    print(table(rows))
    print("(memory: what the buffer's groups hold; encoded: the byte bound's measure of them)")
    low, high = folded[0], folded[-1]
    met = high.memory_mib <= 1.5 * low.memory_mib
    return finish(
        started,
        {
            f"folded, memory after {high.updates:,} updates within 1.5x of after "
            f"{low.updates:,} ({high.memory_mib:.1f} vs {low.memory_mib:.1f} MiB)": met
        },
    )


if __name__ == "__main__":
    raise SystemExit(main())
