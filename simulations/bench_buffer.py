"""Delta buffer memory with no peer connected (issue 14): a replica makes many updates that
nobody acknowledges, and the buffer's memory is measured with tracemalloc, folding (the
default `max_groups`) beside the byte bound alone (`max_groups=None`, the baseline), in one run.

The workload is the session registry's: puts (3 in 4) and deletes of session entries on
`--keys` keys of one map, made and buffered as a container's update makes and buffers them
(`m[k] = v`'s put, `Replica.commit_local`'s `append_local`) but without an event loop, so
the figures are the buffer's, not a container's. Each figure is the memory the buffer's groups
hold: traced memory with them, minus traced memory once they are all dropped. The target:
folded, the buffer holds no more memory after the most updates than after the fewest times
1.5 (it grows with the keys, not the updates); the baseline is printed, not judged.

    python -m simulations.bench_buffer [--updates 10000 50000 150000] [--keys 2000]
"""

from __future__ import annotations

import random
import time
import tracemalloc
from dataclasses import dataclass

from crdtstate.buffer import DEFAULT_MAX_GROUPS, DeltaBuffer
from crdtstate.replica_state import ReplicaState
from crdtstate.types import ORMap

from .output import Column, Table
from .scale_worker import Session
from .targets import announce, bench_parser, finish, progress

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
                delta = m.put(key, value, replica=state.id)  # what a container's `m[k] = v` does
            else:
                delta = m.remove(key, replica=state.id)
            if not delta.is_bottom():  # as a container's update (a delete of no key: none)
                buffer.append_local(state.id, "sessions", delta)  # as `Replica.commit_local`
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


TABLE = Table(
    Column("buffer", 28, align="<"),
    Column("updates", 9, ","),
    Column("groups", 8, ","),
    Column("encoded MiB", 12, ".2f"),
    Column("memory MiB", 11, ".1f"),
    Column("folds", 6, ","),
    Column("dropped", 8, ","),
    Column("s", 6, ".1f"),
)


def table(rows: list[tuple[str, Figure]]) -> str:
    lines = [TABLE.header()]
    for name, f in rows:
        lines.append(
            TABLE.row(
                name,
                f.updates,
                f.groups,
                f.encoded_mib,
                f.memory_mib,
                f.folds,
                f.dropped,
                f.seconds,
            )
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        "simulations.bench_buffer",
        "Measures the memory the delta buffer holds when no peer is connected, folding "
        "beside the byte bound alone, at several numbers of updates.",
        quick="a small workload (CI)",
    )
    parser.add_argument(
        "--updates",
        type=int,
        nargs="+",
        default=[10_000, 50_000, 150_000],
        help="numbers of updates to measure after (each one a fresh run)",
    )
    parser.add_argument("--keys", type=int, default=2_000, help="session keys in the map")
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
