"""Benchmark of the CRDT types: local update throughput (pure API and through a replicated
container), encoded sizes of deltas, states and digest-driven deltas, and the same workload on
pycrdt's `Map` in the same process; then a PNCounter container against `LockedContainer`;
then the digest sizes of large AWSets, in the current form and in the earlier one.

Run: `python -m simulations.bench_types [--n 5000] [--digests-only]`. Numbers are per process,
single core. Takes about a minute with the default --n. Exit status: see
`simulations/targets.py` (target: a PNCounter container at least 0.8x LockedContainer(0), issue 14).
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio
from pycrdt import Doc, Map

from crdtstate import codec
from crdtstate.containers.locked import LockedContainer
from crdtstate.replica import Replica
from crdtstate.types import (
    AWSet,
    Crdt,
    DWFlag,
    EWFlag,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORMap,
    PNCounter,
    RWSet,
)
from simulations.output import Column, Table
from simulations.targets import announce, bench_parser, finish, progress

ESTIMATE_SECONDS = 60  # the whole run with --n 5000 on an idle 2-vCPU VM
KEYS = 100  # distinct map keys in the map workloads
BEHIND = 10  # updates a peer misses before a digest-driven sync
DIGEST_SIZES = (5_000, 100_000)  # AWSet elements in the digest table
DIGEST_REPLICAS = ("replica-1", "replica-2", "replica-3")


@dataclass
class Workload:
    """Step i of one workload, three ways: pure mutator, container updater, pycrdt Map."""

    name: str
    kind: Any
    pure: Callable[[Any, int], Crdt]  # (state, i) -> delta, replica "a"
    handle: Callable[[Any, int], None]  # (handle, i) inside update
    pycrdt: Callable[[Map, int], None]


def _inc(m: Map, key: str) -> None:
    m[key] = m.get(key, 0) + 1


def _inner(m: Map, key: str) -> Map:
    if key not in m:
        m[key] = Map()
    return m[key]


def _toggle_set(s: Any, i: int) -> Crdt:
    return s.add(i, replica="a") if i % 2 == 0 else s.remove(i - 1, replica="a")


def _toggle_handle(s: Any, i: int) -> None:
    s.add(i) if i % 2 == 0 else s.discard(i - 1)


def _toggle_pycrdt(m: Map, i: int) -> None:
    if i % 2 == 0:
        m[str(i)] = True
    else:
        del m[str(i - 1)]


def _flag(s: Any, i: int) -> Crdt:
    return s.enable(replica="a") if i % 2 == 0 else s.disable(replica="a")


def _flag_handle(f: Any, i: int) -> None:
    f.enable() if i % 2 == 0 else f.disable()


def _set_pycrdt(m: Map, key: str, value: Any) -> None:
    m[key] = value


WORKLOADS = [
    Workload(
        "GCounter",
        GCounter,
        lambda s, i: s.increment(1, replica="a"),
        lambda h, i: h.increment(1),
        lambda m, i: _inc(m, "n"),
    ),
    Workload(
        "PNCounter",
        PNCounter,
        lambda s, i: s.increment(1 if i % 3 else -1, replica="a"),
        lambda h, i: h.increment(1 if i % 3 else -1),
        lambda m, i: _inc(m, "n"),
    ),
    Workload(
        "GSet (add)",
        GSet,
        lambda s, i: s.add(i, replica="a"),
        lambda h, i: h.add(i),
        lambda m, i: _set_pycrdt(m, str(i), True),
    ),
    Workload("AWSet (add/remove)", AWSet, _toggle_set, _toggle_handle, _toggle_pycrdt),
    Workload("RWSet (add/remove)", RWSet, _toggle_set, _toggle_handle, _toggle_pycrdt),
    Workload("EWFlag", EWFlag, _flag, _flag_handle, lambda m, i: _set_pycrdt(m, "f", i % 2 == 0)),
    Workload("DWFlag", DWFlag, _flag, _flag_handle, lambda m, i: _set_pycrdt(m, "f", i % 2 == 0)),
    Workload(
        "MVRegister",
        MVRegister,
        lambda s, i: s.assign(i, replica="a"),
        lambda h, i: setattr(h, "value", i),
        lambda m, i: _set_pycrdt(m, "r", i),
    ),
    Workload(
        "LWWRegister",
        LWWRegister,
        lambda s, i: s.assign(i, replica="a"),
        lambda h, i: setattr(h, "value", i),
        lambda m, i: _set_pycrdt(m, "r", i),
    ),
    Workload(
        "ORMap[str, PNCounter]",
        ORMap[str, PNCounter],
        lambda s, i: s.apply(f"k{i % KEYS}", lambda c: c.increment(1, replica="a")),
        lambda h, i: h[f"k{i % KEYS}"].increment(1),
        lambda m, i: _inc(m, f"k{i % KEYS}"),
    ),
    Workload(
        "ORMap[str, AWSet]",
        ORMap[str, AWSet],
        lambda s, i: s.apply(f"k{i % KEYS}", lambda v: v.add(i, replica="a")),
        lambda h, i: h[f"k{i % KEYS}"].add(i),
        lambda m, i: _set_pycrdt(_inner(m, f"k{i % KEYS}"), str(i), True),
    ),
    Workload(
        "ORMap[str, ORMap[str, int]]",
        ORMap[str, ORMap[str, int]],
        lambda s, i: s.apply(
            f"k{i % KEYS}", lambda v: v.apply(f"j{i % 7}", lambda r: r.assign(i, replica="a"))
        ),
        lambda h, i: h[f"k{i % KEYS}"].__setitem__(f"j{i % 7}", i),
        lambda m, i: _set_pycrdt(_inner(m, f"k{i % KEYS}"), f"j{i % 7}", i),
    ),
]


def _plain_bump(m: Any, key: str) -> None:
    m[key] = m.get(key, 0) + 1


def _plain_toggle(s: set[int], i: int) -> None:
    s.add(i) if i % 2 == 0 else s.discard(i - 1)


LOCKED: dict[str, tuple[Callable[[], Any], Callable[[Any, int], Any]]] = {
    "GCounter": (int, lambda v, i: v + 1),
    "PNCounter": (int, lambda v, i: v + (1 if i % 3 else -1)),
    "GSet (add)": (set, lambda s, i: s.add(i)),
    "AWSet (add/remove)": (set, _plain_toggle),
    "RWSet (add/remove)": (set, _plain_toggle),
    "EWFlag": (bool, lambda f, i: i % 2 == 0),
    "DWFlag": (bool, lambda f, i: i % 2 == 0),
    "MVRegister": (lambda: None, lambda r, i: i),
    "LWWRegister": (lambda: None, lambda r, i: i),
    # Maps: the dict-style equivalent of the handle updater (the tests show they agree).
    "ORMap[str, PNCounter]": (
        dict,
        lambda m, i: m.__setitem__(f"k{i % KEYS}", m.get(f"k{i % KEYS}", 0) + 1),
    ),
    "ORMap[str, AWSet]": (dict, lambda m, i: m.setdefault(f"k{i % KEYS}", set()).add(i)),
    "ORMap[str, ORMap[str, int]]": (
        dict,
        lambda m, i: m.setdefault(f"k{i % KEYS}", {}).__setitem__(f"j{i % 7}", i),
    ),
}


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "inf"


def bench_pure(w: Workload, n: int) -> tuple[float, Crdt, int, int]:
    """(seconds, final state, mean delta bytes, digest-driven delta bytes after BEHIND misses)."""
    state = w.kind()
    start = time.perf_counter()
    for i in range(n):
        w.pure(state, i)
    elapsed = time.perf_counter() - start
    # Sizes, measured outside the timed loop on a fresh run.
    sizing = w.kind()
    delta_bytes = 0
    peer = None
    for i in range(n):
        if i == n - BEHIND:
            peer = sizing.copy()
        delta_bytes += len(codec.encode(w.pure(sizing, i)))
    peer = peer if peer is not None else w.kind()
    catch_up = len(codec.encode(sizing.delta_since(peer.digest())))
    return elapsed, state, delta_bytes // max(n, 1), catch_up


async def bench_container(w: Workload, n: int) -> float:
    async with Replica.open("a") as replica:
        container = replica.container("bench", w.kind)
        start = time.perf_counter()
        for i in range(n):
            await container.update(lambda h, i=i: w.handle(h, i))
        return time.perf_counter() - start


async def bench_locked(w: Workload, n: int) -> float:
    initial, updater = LOCKED[w.name]
    locked = LockedContainer(initial())
    start = time.perf_counter()
    for i in range(n):
        await locked.update(lambda v, i=i: updater(v, i))
    return time.perf_counter() - start


def bench_pycrdt(w: Workload, n: int) -> tuple[float, int, int]:
    doc = Doc()
    m = doc.get("m", type=Map)
    start = time.perf_counter()
    for i in range(n):
        with doc.transaction():
            w.pycrdt(m, i)
    elapsed = time.perf_counter() - start
    sizing = Doc()
    sm = sizing.get("m", type=Map)
    total = 0
    for i in range(n):
        before = sizing.get_state()
        with sizing.transaction():
            w.pycrdt(sm, i)
        total += len(sizing.get_update(before))
    return elapsed, total // max(n, 1), len(doc.get_update())


async def bench_counter_vs_locked(n: int, rounds: int = 5) -> tuple[float, float]:
    """Seconds for `n` increments, best of `rounds` for each side, the sides alternating so
    that both see the same machine (and a garbage collection lands on neither)."""
    locked_best = replicated_best = float("inf")
    async with Replica.open("a") as replica:
        counter = replica.container("hits", PNCounter)
        for _ in range(rounds):
            locked = LockedContainer(0)
            gc.collect()
            start = time.perf_counter()
            for _ in range(n):
                await locked.update(lambda v: v + 1)
            locked_best = min(locked_best, time.perf_counter() - start)
            assert await locked.get() == n
            gc.collect()
            start = time.perf_counter()
            for _ in range(n):
                await counter.update(lambda c: c.increment(1))
            replicated_best = min(replicated_best, time.perf_counter() - start)
    return locked_best, replicated_best


def digest_set(n: int, removed: float, seed: int = 7) -> AWSet:
    """`n` elements added round-robin by three replicas, then a random share `removed` removed
    (each by the replica that added it, after all the adds)."""
    s = AWSet()
    for i in range(n):
        s.add(i, replica=DIGEST_REPLICAS[i % 3])
    for i in random.Random(seed).sample(range(n), int(n * removed)):
        s.remove(i, replica=DIGEST_REPLICAS[i % 3])
    return s


def counters_digest_bytes(s: AWSet) -> int:
    """The digest as it was before held dots travelled as runs: {replica: [counter, ...]}."""
    held: dict[str, list[int]] = {}
    for d in sorted(s.store.dots()):
        held.setdefault(d.replica, []).append(d.counter)
    return len(codec.pack([s.context.to_wire(), held]))


DIGESTS = Table(
    Column("AWSet digest", 40, align="<"),
    Column("held dots", 9, ","),
    Column("runs", 7, ","),
    Column("before B", 9, ","),
    Column("now B", 7, ","),
)
RATES = Table(
    Column("type", 28, align="<"),
    Column("pure/s", 10),
    Column("container/s", 12),
    Column("locked/s", 9),
    Column("pycrdt/s", 10),
    Column("delta B", 8),
    Column("state B", 9),
    Column("sync B", 7),
    Column("pycrdt Δ B", 11),
    Column("pycrdt B", 9),
)


def print_digest_table() -> None:
    print(DIGESTS.header())
    for n in DIGEST_SIZES:
        for removed in (0.0, 0.3):
            s = digest_set(n, removed)
            digest = s.digest()
            now = len(codec.pack(codec.digest_to_wire(AWSet.kind, digest)))
            n_runs = sum(len(digest.held.ranges(r)) for r in digest.held.replicas())
            label = f"{n:,} added, {removed:.0%} removed, 3 replicas"
            held = digest.held.dot_count()
            print(DIGESTS.row(label, held, n_runs, counters_digest_bytes(s), now))


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("simulations.bench_types", __doc__)
    parser.add_argument("--n", type=int, default=5000, help="updates per workload")
    parser.add_argument("--digests-only", action="store_true", help="only the digest table")
    args = parser.parse_args(argv)
    if args.digests_only:
        print_digest_table()
        return 0
    n = args.n
    started = announce(f"about {max(5, round(ESTIMATE_SECONDS * n / 5000))} s")
    print(f"{n} updates per workload; sync B = digest-driven delta to a peer {BEHIND} behind")
    print(RATES.header())
    for w in WORKLOADS:
        progress(w.name)
        pure_s, state, delta_b, sync_b = bench_pure(w, n)
        container_s = trio.run(bench_container, w, n)
        locked_s = trio.run(bench_locked, w, n)
        py_s, py_delta_b, py_state_b = bench_pycrdt(w, n)
        print(
            RATES.row(
                w.name,
                rate(n, pure_s),
                rate(n, container_s),
                rate(n, locked_s),
                rate(n, py_s),
                delta_b,
                len(codec.encode(state)),
                sync_b,
                py_delta_b,
                py_state_b,
            ),
            flush=True,
        )
    progress("PNCounter container against LockedContainer(0)")
    locked_s, replicated_s = trio.run(bench_counter_vs_locked, n)
    ratio = locked_s / replicated_s
    print()
    print(
        f"PNCounter container {rate(n, replicated_s)}/s vs LockedContainer(0) "
        f"{rate(n, locked_s)}/s: {ratio:.2f}x"
    )
    print()
    progress("digest sizes")
    print_digest_table()
    return finish(
        started, {f"PNCounter container / LockedContainer(0) >= 0.8x ({ratio:.2f}x)": ratio >= 0.8}
    )


if __name__ == "__main__":
    raise SystemExit(main())
