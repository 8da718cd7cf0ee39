"""Named scenarios on the discrete-event network; each returns a `Report` (table + series).

- partition: two sides joined by one bridge link make 5,000 updates each while cut off; after
  the heal, how many bytes cross the bridge compared with the deltas each side lacks.
- unreachable: one replica is cut off for an hour of simulated time while the others keep
  writing; the buffers stay within their byte bound and the replica converges when it returns.
- flaky: five replicas on lossy, duplicating, reordering links with partitions and crashes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from crdtstate.buffer import encoded_size
from crdtstate.types import AWSet, Crdt, GCounter, PNCounter

from .links import LinkModel
from .metrics import Traffic
from .network import Network
from .workloads import WORKLOADS

Progress = Callable[[float], None]  # fraction done, 0..1
RESYNC_LIMIT = 1.3  # bytes a resync may carry, as a multiple of the deltas the other side lacks


@dataclass(slots=True)
class Report:
    title: str
    columns: list[str]
    rows: list[list[object]]
    notes: list[str] = field(default_factory=list)
    series: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    xlabel: str = "simulated seconds"
    ylabel: str = ""
    bar_column: int | None = None  # without series: plot this column as bars
    limit: tuple[float, str] | None = None  # a target drawn across the plot: (value, label)


def _mixed_update(net: Network, rid: str, rng: random.Random, step: int) -> dict[str, Crdt]:
    """Mostly fresh set elements, some removals, and counter bumps: one delta-group."""
    roll = rng.random()
    if roll < 0.6:
        element = f"{rid}-{step}"
        return net.update_group(rid, [("tags", AWSet, _add(element))])
    if roll < 0.7:
        state = net.replicas[rid].state.objects.get("tags")
        victims = sorted(map(str, state.value)) if isinstance(state, AWSet) else []
        if victims:
            victim = rng.choice(victims)
            return net.update_group(rid, [("tags", AWSet, _remove(victim))])
    if roll < 0.85:
        return net.update_group(rid, [("hits", GCounter, _bump)])
    return net.update_group(rid, [("balance", PNCounter, _bump)])


def _add(element: str) -> Callable[[Crdt, str], Crdt]:
    return lambda s, r: s.add(element, replica=r)  # type: ignore[attr-defined]


def _remove(element: str) -> Callable[[Crdt, str], Crdt]:
    return lambda s, r: s.remove(element, replica=r)  # type: ignore[attr-defined]


def _bump(state: Crdt, replica: str) -> Crdt:
    return state.increment(1, replica=replica)  # type: ignore[attr-defined]


def partition(seed: int, progress: Progress, updates: int = 5000) -> Report:
    """a2 - a1 ==bridge== b1 - b2: shared history, a cut, `updates` per side, a heal."""
    rows = []
    for label, bound in (("buffer serves", 1 << 24), ("digest resync", 4 * 1024)):
        net = Network(seed, retransmit_after=1.0, buffer_bytes=bound)
        for rid in ("a1", "a2", "b1", "b2"):
            net.add_replica(rid)
        net.connect("a1", "a2")
        net.connect("b1", "b2")
        bridge = net.connect("a1", "b1")
        rng = random.Random(seed)
        for step in range(1000):  # a shared history, synced before the cut
            _mixed_update(net, rng.choice(["a1", "a2", "b1", "b2"]), rng, step)
            net.run_until(net.now + 0.01)
        net.run_until_quiet()
        net.partition({"a1", "a2"})
        lacking = {"a": 0, "b": 0}
        for step in range(updates):
            for side in ("a", "b"):
                rid = f"{side}{rng.choice([1, 2])}"
                deltas = _mixed_update(net, rid, rng, 10_000 + step)
                lacking[side] += encoded_size(deltas)
            net.run_until(net.now + 0.01)
            if step % 100 == 0:
                progress((0.5 if bound < 1 << 24 else 0.0) + 0.4 * step / updates)
        net.run_until_quiet(limit=net.now + 60)  # each side settles; the bridge keeps trying
        before = {end: _snapshot(s) for end, s in bridge.sessions.items()}
        full_state = sum(encoded_size(n.state.objects) for n in net.replicas.values()) // 4
        a1, b1 = net.replicas["a1"].state, net.replicas["b1"].state
        optimal = {
            "a1": encoded_size(a1.deltas_since(b1.object_digests())),
            "b1": encoded_size(b1.deltas_since(a1.object_digests())),
        }
        net.heal()
        if not net.run_until_quiet(limit=net.now + 3600) or not net.converged():
            raise RuntimeError("the partition scenario did not converge")
        for end, lacked_by_other in (("a1", lacking["a"]), ("b1", lacking["b"])):
            sent = Traffic.of([bridge.sessions[end]]).minus(before[end])
            rows.append(
                [
                    label,
                    f"{end[0]} -> {'b' if end[0] == 'a' else 'a'}",
                    lacked_by_other,
                    sent.payload_bytes,
                    sent.bytes,
                    f"{sent.bytes / lacked_by_other:.3f}",
                    optimal[end],
                    full_state,
                    sent.resyncs,
                ]
            )
    progress(1.0)
    return Report(
        f"Resync after a partition with {updates:,} updates per side",
        [
            "buffer",
            "direction",
            "lacking deltas B",
            "payload B",
            "all B",
            "all/lacking",
            "delta_since B",
            "full state B",
            "resyncs",
        ],
        rows,
        notes=[
            "lacking deltas: the encoded delta-groups of the updates the other side made",
            "payload/all: bytes the bridge carried from the heal to quiescence, one direction",
            "delta_since: the optimal delta for the other side's digest, computed at the heal",
            "full state: what shipping one replica's whole state would cost instead",
        ],
        bar_column=5,
        limit=(RESYNC_LIMIT, f"limit {RESYNC_LIMIT}x"),
    )


def _snapshot(session: object) -> Traffic:
    return Traffic.of([session])  # type: ignore[list-item]


def unreachable(seed: int, progress: Progress, hours: float = 1.0) -> Report:
    """r3 is cut off while r0..r2 write; the buffers are bounded at 16 KiB."""
    bound = 16 * 1024
    duration = hours * 3600
    net = Network(seed, retransmit_after=1.0, max_retransmit_after=30.0, buffer_bytes=bound)
    ids = ["r0", "r1", "r2", "r3"]
    for rid in ids:
        net.add_replica(rid)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            net.connect(a, b)
    net.sample_every(30.0, duration + 600)
    rng = random.Random(seed)
    net.run_until(1.0)  # sessions open: r3's acknowledgements hold the others' buffers
    net.partition({"r3"})
    step = 0
    while net.now < duration:
        _mixed_update(net, rng.choice(ids[:3]), rng, step)
        step += 1
        net.run_until(net.now + rng.expovariate(1.0))
        if step % 200 == 0:
            progress(min(net.now / duration, 1.0) * 0.9)
    net.heal()
    healed_at = net.now
    converged = net.run_until_quiet(limit=net.now + 600) and net.converged()
    progress(1.0)
    traffic = net.traffic()
    rows = [
        [
            rid,
            node.max_buffer_bytes,
            bound,
            node.state.buffer.dropped_for_bound,
            node.state.buffer.bytes,
        ]
        for rid, node in net.replicas.items()
    ]
    times = [s.time for s in net.samples]
    series = {
        rid: (times, [s.buffer_bytes[rid] / 1024 for s in net.samples]) for rid in net.replicas
    }
    last = max(node.last_change for node in net.replicas.values())
    return Report(
        f"One replica unreachable for {hours:g} h ({step:,} updates elsewhere)",
        ["replica", "max buffer B", "bound B", "groups dropped for bound", "buffer B at end"],
        rows,
        notes=[
            f"converged after the heal: {converged}, {last - healed_at:.1f} s after it",
            f"digest resyncs: {traffic.resyncs}, retransmissions: {traffic.retransmits}",
        ],
        series=series,
        ylabel="buffer KiB",
    )


def flaky(seed: int, progress: Progress, updates: int = 2000) -> Report:
    """Five replicas, 10% loss, 5% duplication, reordering, partitions and crashes."""
    net = Network(seed, retransmit_after=0.5)
    ids = [f"r{i}" for i in range(5)]
    for rid in ids:
        net.add_replica(rid)
    model = LinkModel(latency=0.005, jitter=0.03, loss=0.1, duplicate=0.05)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            net.connect(a, b, model)
    net.sample_every(1.0, updates * 0.05 + 120)
    rng = random.Random(seed)
    kinds = sorted(WORKLOADS)
    for step in range(updates):
        rid = rng.choice(ids)
        if rng.random() < 0.005:
            net.partition(rng.sample(ids, 2))
        elif rng.random() < 0.005:
            net.heal()
        if rng.random() < 0.002 and net.replicas[rid].up:
            net.crash(rid)
        for down in [r for r in ids if not net.replicas[r].up]:
            if rng.random() < 0.05:
                net.restart(down)
        if net.replicas[rid].up:
            workload = WORKLOADS[rng.choice(kinds)]
            net.update(rid, workload.name, workload.kind, workload.mutation(rng.randrange(1000)))
        net.run_until(net.now + rng.expovariate(20))
        if step % 50 == 0:
            progress(0.9 * step / updates)
    net.heal()
    for rid in ids:
        if not net.replicas[rid].up:
            net.restart(rid)
    healed_at = net.now
    quiet = net.run_until_quiet(limit=net.now + 3600)
    progress(1.0)
    t = net.traffic()
    c = net.counters
    last = max(node.last_change for node in net.replicas.values())
    rows = [
        ["frames sent", t.frames],
        ["bytes sent", t.bytes],
        ["payload bytes", t.payload_bytes],
        ["metadata share", f"{t.metadata_share:.1%}"],
        ["frames lost / duplicated", f"{c.lost} / {c.duplicated}"],
        ["retransmissions / digest resyncs", f"{t.retransmits} / {t.resyncs}"],
        ["converged", quiet and net.converged()],
        ["time to converge after the heal (s)", f"{max(0.0, last - healed_at):.2f}"],
    ]
    times = [s.time for s in net.samples]
    return Report(
        f"{updates:,} updates on 5 replicas over flaky links",
        ["measure", "value"],
        rows,
        series={
            "payload KiB": (times, [s.payload_bytes / 1024 for s in net.samples]),
            "all bytes KiB": (times, [s.wire_bytes / 1024 for s in net.samples]),
        },
        ylabel="KiB sent so far",
    )


def bench(seed: int, progress: Progress) -> Report:
    """The transmission benchmark (see `simulations.bench_transmission`)."""
    from . import bench_transmission as bt

    total = len(bt.WORKLOADS) * len(bt.TOPOLOGIES)
    done = [0]

    def step(_: str) -> None:
        progress(done[0] / total)
        done[0] += 1

    results = bt.run_all(seed, step)
    progress(1.0)
    rows = [
        [
            r.workload,
            r.topology,
            r.lower_bound,
            f"{r.state_based / r.lower_bound:.2f}",
            f"{r.classic / r.lower_bound:.2f}",
            f"{r.ours / r.lower_bound:.3f}",
            f"{r.state_based / r.ours:.1f}",
            f"{r.metadata_share:.1%}",
        ]
        for r in results
    ]
    return Report(
        f"Payload bytes relative to the lower bound ({bt.REPLICAS} replicas, "
        f"{bt.DEFAULT_UPDATES} updates each)",
        [
            "workload",
            "topology",
            "lower bound B",
            "state",
            "classic",
            "ours",
            "state/ours",
            "metadata",
        ],
        rows,
        notes=["state, classic, ours: payload bytes / lower bound; metadata: share of ours"],
        bar_column=5,
    )


SCENARIOS: dict[str, Callable[[int, Progress], Report]] = {
    "partition": partition,
    "unreachable": unreachable,
    "flaky": flaky,
    "bench": bench,
}
