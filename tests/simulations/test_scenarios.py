"""Scenario-level promises: bounded buffers for an unreachable peer, near-minimal resync after
a partition, replayable seeds, the trio layer, and the command that prints and plots."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from simulations.links import LinkModel
from simulations.network import Network
from simulations.scenarios import RESYNC_LIMIT, partition
from simulations.trio_network import trio_scenario
from simulations.workloads import WORKLOADS


def test_buffer_stays_bounded_while_a_peer_is_unreachable_and_it_converges_on_return() -> None:
    bound = 4096
    net = Network(7, retransmit_after=1.0, max_retransmit_after=20.0, buffer_bytes=bound)
    ids = ["r0", "r1", "r2"]
    for rid in ids:
        net.add_replica(rid)
    for a, b in (("r0", "r1"), ("r1", "r2"), ("r0", "r2")):
        net.connect(a, b)
    net.run_until(1.0)  # sessions open and serving: r2's acknowledgements now hold the buffer
    net.partition({"r2"})
    rng = random.Random(7)
    set_workload = WORKLOADS["awset"]
    for step in range(3000):  # about 50 minutes of simulated writes
        rid = rng.choice(["r0", "r1"])
        net.update(rid, "tags", set_workload.kind, set_workload.mutation(step * 8))
        net.run_until(net.now + 1.0)
        for node in net.replicas.values():
            assert node.state.buffer.bytes <= bound
    dropped = sum(node.state.buffer.dropped_for_bound for node in net.replicas.values())
    assert dropped > 0  # the bound, not GC, is what kept the buffers small
    net.heal()
    assert net.run_until_quiet(limit=net.now + 600)
    assert net.converged()
    assert net.traffic().resyncs >= 1
    assert max(node.max_buffer_bytes for node in net.replicas.values()) <= bound


def test_resync_after_a_partition_ships_close_to_what_each_side_lacks() -> None:
    report = partition(1, lambda fraction: None, updates=1000)
    ratios = [float(row[5]) for row in report.rows]
    assert len(ratios) == 4
    assert max(ratios) <= RESYNC_LIMIT
    assert any(row[8] for row in report.rows if row[0] == "digest resync")


def _run(seed: int) -> tuple[int, int, str]:
    net = Network(seed)
    for rid in ("a", "b", "c"):
        net.add_replica(rid)
    model = LinkModel(loss=0.2, duplicate=0.2)
    net.connect("a", "b", model)
    net.connect("b", "c", model)
    rng = random.Random(seed)
    counter = WORKLOADS["pncounter"]
    for _ in range(100):
        net.update(rng.choice("abc"), "n", counter.kind, counter.mutation(rng.randrange(1000)))
        net.run_until(net.now + rng.expovariate(5))
    assert net.run_until_quiet(limit=net.now + 600)
    return net.traffic().bytes, net.counters.lost, net.replicas["a"].state.digest()


def test_the_same_seed_replays_the_same_run() -> None:
    assert _run(3) == _run(3)
    assert _run(3)[:2] != _run(4)[:2]


def test_the_trio_layer_converges_under_faults_a_partition_and_a_crash() -> None:
    report = trio_scenario(2, lambda fraction: None)
    values = dict((row[0], row[1]) for row in report.rows)
    assert values["converged"] is True
    assert values["replica ids at the end"].split()[-1] == "r3#1"  # a new id after the crash
    assert len(values["hits on every replica"]) == 1


def test_the_command_prints_a_table_and_writes_a_plot(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulations", "trio", "--seed", "3", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "converged" in result.stdout
    png = tmp_path / "trio.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
