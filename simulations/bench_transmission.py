"""Transmission benchmark after Enes et al., "Efficient Synchronization of State-based CRDTs"
(ICDE 2019): 15 replicas in a tree (at most 3 neighbours) and a partial mesh (4 neighbours);
each replica makes an update per simulated second and syncs every second: 100 updates in the
paper (`--full`), 30 by default, as classic delta shipping (no BP, no RR) costs time that grows
much faster than the updates (every figure is printed either way; classic's ratio grows with
the run's length, ours and state-based's hardly).

Workloads:
- gset: a grow-only set. There is no GSet type in this tree yet, so an AWSet that is only ever
  added to (a fresh element per update) stands in for it.
- gcounter: one GCounter, incremented by each update.
- gmap-10 / gmap-100: a grow-only map of 1,000 keys, each replica owning 1/15 of them and
  writing 10% / 100% of its own keys per update. The map is one GCounter object per key
  (name `k0042`), written in one delta-group per update; ORMap is being built in parallel.

Compared, as payload bytes (encoded states or deltas with their object names): state-based
shipping (every replica sends its whole state to every neighbour each second), classic delta
shipping (no BP, no RR), ours, and the lower bound (each update's delta-group delivered once
to each of the 14 other replicas). Protocol metadata (frame headers, acks, hellos, digests) is
reported as a share of all bytes we sent.

Run: `python -m simulations.bench_transmission` (or `python -m simulations bench`). Takes
about 150 s (`--full`: about 50 minutes; progress per workload and topology); it
checks no target, so it exits 0 (see `simulations/targets.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crdtstate.buffer import encoded_size
from crdtstate.types import AWSet, Crdt, GCounter

from .links import LinkModel
from .network import Mutation, Network
from .output import Column, Table
from .targets import announce, bench_parser, finish, progress

REPLICAS = 15
PAPER_UPDATES = 100  # per replica, as in the paper (`--full`)
DEFAULT_UPDATES = 30  # per replica, by default
DEFAULT_SECONDS = 150  # the default run's CPU time (146 s measured on the 2-vCPU VM)
GROWTH = 2.5  # its time grows about as updates ** GROWTH (classic shipping's: 30 -> 100, 20x)
MAP_KEYS = 1000
LINK = LinkModel(latency=0.01, jitter=0.005, fifo=True)

Change = tuple[str, type[Crdt], Mutation]


def tree(n: int) -> list[tuple[int, int]]:
    """A binary tree: the root has 2 neighbours, inner nodes 3."""
    return [((i - 1) // 2, i) for i in range(1, n)]


def mesh(n: int) -> list[tuple[int, int]]:
    """A ring lattice: each replica linked to the 2 nearest on each side (4 neighbours)."""
    return sorted({tuple(sorted((i, (i + k) % n))) for i in range(n) for k in (1, 2)})  # type: ignore[misc]


TOPOLOGIES: dict[str, Callable[[int], list[tuple[int, int]]]] = {"tree": tree, "mesh": mesh}


def _add(element: str) -> Mutation:
    return lambda state, replica: state.add(element, replica=replica)


def _increment(state: Crdt, replica: str) -> Crdt:
    return state.increment(1, replica=replica)  # type: ignore[attr-defined]


def gset(index: int, step: int) -> list[Change]:
    return [("set", AWSet, _add(f"r{index}-{step}"))]


def gcounter(index: int, step: int) -> list[Change]:
    return [("counter", GCounter, _increment)]


def gmap(percent: int) -> Callable[[int, int], list[Change]]:
    def changes(index: int, step: int) -> list[Change]:
        own = [k for k in range(MAP_KEYS) if k % REPLICAS == index]
        count = max(1, len(own) * percent // 100)
        start = step * count
        keys = [own[(start + j) % len(own)] for j in range(count)]
        return [(f"k{k:04d}", GCounter, _increment) for k in keys]

    return changes


WORKLOADS: dict[str, Callable[[int, int], list[Change]]] = {
    "gset": gset,
    "gcounter": gcounter,
    "gmap-10": gmap(10),
    "gmap-100": gmap(100),
}


@dataclass(frozen=True, slots=True)
class Result:
    workload: str
    topology: str
    lower_bound: int
    state_based: int
    classic: int
    ours: int
    ours_metadata: int
    ours_total: int
    converge_seconds: float

    @property
    def metadata_share(self) -> float:
        return self.ours_metadata / self.ours_total if self.ours_total else 0.0


def _run(
    workload: Callable[[int, int], list[Change]],
    links: list[tuple[int, int]],
    *,
    classic: bool,
    seed: int,
    updates: int,
) -> tuple[Network, int]:
    """Run the schedule; return the network and the lower-bound payload bytes."""
    net = Network(
        seed,
        sync_interval=1.0,
        retransmit_after=5.0,
        back_propagation=not classic,
        remove_redundant=not classic,
    )
    ids = [f"r{i}" for i in range(REPLICAS)]
    for rid in ids:
        net.add_replica(rid)
    for a, b in links:
        net.connect(ids[a], ids[b], LINK)
    lower = [0]

    def make(index: int, step: int) -> Callable[[], None]:
        def act() -> None:
            deltas = net.update_group(ids[index], workload(index, step))
            lower[0] += encoded_size(deltas) * (REPLICAS - 1)

        return act

    for index in range(REPLICAS):
        phase = net.rng.uniform(0, 1)
        for step in range(updates):
            net.at(1.0 + step + phase, make(index, step))
    net.run_until(updates + 2)
    if not net.run_until_quiet(limit=updates + 600):
        raise RuntimeError("the benchmark network did not go quiet")
    if not net.converged():
        raise RuntimeError("the benchmark replicas did not converge")
    return net, lower[0]


def state_based_bytes(
    workload: Callable[[int, int], list[Change]], links: list[tuple[int, int]], updates: int
) -> int:
    """Every second, every replica ships its whole state to every neighbour, until all agree."""
    states: list[dict[str, Crdt]] = [{} for _ in range(REPLICAS)]
    neighbours: dict[int, list[int]] = {i: [] for i in range(REPLICAS)}
    for a, b in links:
        neighbours[a].append(b)
        neighbours[b].append(a)
    total = 0
    second = 0
    while True:
        if second < updates:
            for index in range(REPLICAS):
                for name, kind, mutate in workload(index, second):
                    state = states[index].setdefault(name, kind())
                    mutate(state, f"r{index}")
        sizes = [encoded_size(s) for s in states]
        outgoing = [{n: o.copy() for n, o in s.items()} for s in states]
        for index in range(REPLICAS):
            for peer in neighbours[index]:
                total += sizes[index]
                for name, obj in outgoing[index].items():
                    states[peer].setdefault(name, type(obj)()).merge(obj)
        second += 1
        if second >= updates and all(s == states[0] for s in states):
            return total


def measure(
    workload_name: str, topology: str, seed: int = 0, updates: int = DEFAULT_UPDATES
) -> Result:
    workload = WORKLOADS[workload_name]
    links = TOPOLOGIES[topology](REPLICAS)
    ours, lower = _run(workload, links, classic=False, seed=seed, updates=updates)
    classic, _ = _run(workload, links, classic=True, seed=seed, updates=updates)
    traffic = ours.traffic()
    converged = max(node.last_change for node in ours.replicas.values())
    return Result(
        workload_name,
        topology,
        lower,
        state_based_bytes(workload, links, updates),
        classic.traffic().payload_bytes,
        traffic.payload_bytes,
        traffic.metadata_bytes,
        traffic.bytes,
        converged - (updates + 1.0),
    )


TABLE = Table(
    Column("workload", 10, align="<"),
    Column("topology", 8, align="<"),
    Column("lower bound", 12, ","),
    Column("state x", 8, ".2f"),
    Column("classic x", 10, ".2f"),
    Column("ours x", 7, ".3f"),
    Column("state/ours", 11, ".1f"),
    Column("metadata", 9, ".1%"),
)


def row(r: Result) -> str:
    lb = r.lower_bound
    return TABLE.row(
        r.workload,
        r.topology,
        lb,
        r.state_based / lb,
        r.classic / lb,
        r.ours / lb,
        r.state_based / r.ours,
        r.metadata_share,
    )


def run_all(
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    updates: int = DEFAULT_UPDATES,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Every workload on every topology; `on_result` is told each as soon as it is measured."""
    results = []
    for workload in WORKLOADS:
        for topology in TOPOLOGIES:
            if progress is not None:
                progress(f"{workload}/{topology}")
            results.append(measure(workload, topology, seed, updates))
            if on_result is not None:
                on_result(results[-1])
    return results


def estimate(updates: int) -> str:
    """About how long a run of `updates` per replica takes (for `announce`)."""
    seconds = max(5.0, DEFAULT_SECONDS * (updates / DEFAULT_UPDATES) ** GROWTH)
    return f"about {seconds / 60:.0f} minutes" if seconds >= 300 else f"about {seconds:.0f} s"


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("simulations.bench_transmission", __doc__)
    parser.add_argument("--seed", type=int, default=0, help="the same seed replays the same run")
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--updates",
        type=int,
        default=DEFAULT_UPDATES,
        help=f"updates per replica (default: {DEFAULT_UPDATES})",
    )
    length.add_argument(
        "--full",
        action="store_const",
        dest="updates",
        const=PAPER_UPDATES,
        help=f"the paper's {PAPER_UPDATES} updates per replica ({estimate(PAPER_UPDATES)})",
    )
    args = parser.parse_args(argv)
    started = announce(estimate(args.updates))
    print(f"{REPLICAS} replicas, {args.updates} updates each, one per simulated second")
    print(TABLE.header(rule=False), flush=True)
    run_all(args.seed, progress, args.updates, lambda r: print(row(r), flush=True))
    print("payload ratios are to the lower bound; metadata is our share of all bytes sent")
    return finish(started, {})


if __name__ == "__main__":
    raise SystemExit(main())
