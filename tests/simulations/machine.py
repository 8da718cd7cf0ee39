"""A hypothesis state machine over the discrete-event network (DESIGN §7, convergence).

Rules interleave updates of every registered workload type on random replicas with
partitions, heals, lossy/duplicating links, dropped and redialed connections (which resume
where they were), crashes and restarts. At the end the network heals
and goes quiet, and the machine checks that every replica holds the same state, that it is the
join of every delta any `update` returned (what shipping full states after every update would
give), and that each of those deltas is contained in it: no update was lost.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from crdtstate.buffer import DEFAULT_MAX_GROUPS
from crdtstate.types import Crdt
from simulations.links import LinkModel
from simulations.network import Network
from simulations.workloads import WORKLOADS

LONG = os.environ.get("CRDTSTATE_LONG") == "1"
QUIET_LIMIT = 10_000.0  # simulated seconds allowed to converge after the heal

TOPOLOGIES = ("mesh", "ring", "line", "star")


def build_links(n: int, topology: str) -> list[tuple[int, int]]:
    if topology == "mesh":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    if topology == "ring" and n > 2:
        return [(i, (i + 1) % n) for i in range(n)]
    if topology == "star":
        return [(0, i) for i in range(1, n)]
    return [(i, i + 1) for i in range(n - 1)]


class ConvergenceMachine(RuleBasedStateMachine):
    """Override `back_propagation` / `remove_redundant` in a subclass to test the baselines."""

    back_propagation = True
    remove_redundant = True

    def __init__(self) -> None:
        super().__init__()
        self.net: Network | None = None
        self.ids: list[str] = []
        self.made: list[tuple[str, Crdt]] = []  # (object name, delta) of every update
        self.bound = 0

    @initialize(
        n=st.integers(2, 5),
        topology=st.sampled_from(TOPOLOGIES),
        seed=st.integers(0, 2**32 - 1),
        fifo=st.booleans(),
        bound=st.sampled_from([300, 2_000, 1 << 24]),
        groups=st.sampled_from([3, 8, DEFAULT_MAX_GROUPS]),  # few: the buffer folds often
    )
    def build(self, n: int, topology: str, seed: int, fifo: bool, bound: int, groups: int) -> None:
        self.bound = bound
        self.net = Network(
            seed,
            retransmit_after=0.2,
            buffer_bytes=bound,
            buffer_groups=groups,
            back_propagation=self.back_propagation,
            remove_redundant=self.remove_redundant,
        )
        self.ids = [f"r{i}" for i in range(n)]
        for rid in self.ids:
            self.net.add_replica(rid)
        model = LinkModel(fifo=fifo)
        for i, j in build_links(n, topology):
            self.net.connect(self.ids[i], self.ids[j], model)

    @property
    def network(self) -> Network:
        assert self.net is not None
        return self.net

    def _pick(self, index: int) -> str:
        return self.ids[index % len(self.ids)]

    @rule(
        kind=st.sampled_from(sorted(WORKLOADS)),
        obj=st.integers(0, 1),
        burst=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 999)), min_size=1, max_size=6),
        spacing=st.sampled_from([0.0, 0.01, 0.1]),
    )
    def update(self, kind: str, obj: int, burst: list[tuple[int, int]], spacing: float) -> None:
        """A burst of updates to one object from random replicas, `spacing` seconds apart:
        concurrent edits of the same elements are where RR and digests can go wrong."""
        workload = WORKLOADS[kind]
        name = f"{kind}-{obj}"
        for who, choice in burst:
            rid = self._pick(who)
            if self.network.replicas[rid].up:
                delta = self.network.update(rid, name, workload.kind, workload.mutation(choice))
                if not delta.is_bottom():
                    self.made.append((name, delta.copy()))
            self.network.run_until(self.network.now + spacing)

    @rule(dt=st.floats(0.0, 2.0))
    def advance(self, dt: float) -> None:
        self.network.run_until(self.network.now + dt)

    @rule(side=st.sets(st.integers(0, 4), min_size=1, max_size=3))
    def partition(self, side: set[int]) -> None:
        self.network.partition({self._pick(i) for i in side})

    @rule()
    def heal(self) -> None:
        self.network.heal()

    @rule(
        loss=st.sampled_from([0.0, 0.1, 0.4]),
        duplicate=st.sampled_from([0.0, 0.2]),
        fifo=st.booleans(),
    )
    def weather(self, loss: float, duplicate: float, fifo: bool) -> None:
        self.network.set_model(LinkModel(loss=loss, duplicate=duplicate, fifo=fifo))

    @rule(a=st.integers(0, 4), b=st.integers(0, 4))
    def reconnect(self, a: int, b: int) -> None:
        """A connection drops and is redialed: the two runs remember each other and resume
        by claims (or fall back to digests when a claim does not hold)."""
        key = tuple(sorted((self._pick(a), self._pick(b))))
        if key in self.network.links:
            self.network.reconnect(*key)

    @rule(who=st.integers(0, 4))
    def crash(self, who: int) -> None:
        rid = self._pick(who)
        if self.network.replicas[rid].up:
            self.network.crash(rid)

    @rule(who=st.integers(0, 4))
    def restart(self, who: int) -> None:
        rid = self._pick(who)
        if not self.network.replicas[rid].up:
            self.network.restart(rid)

    @invariant()
    def buffers_stay_within_their_bound(self) -> None:
        if self.net is not None:
            for node in self.net.replicas.values():
                assert node.state.buffer.bytes <= self.bound

    def teardown(self) -> None:
        if self.net is None:
            return
        net = self.net
        net.heal()
        net.set_model(LinkModel(duplicate=0.1))
        for rid, node in net.replicas.items():
            if not node.up:
                net.restart(rid)
        assert net.run_until_quiet(limit=net.now + QUIET_LIMIT), "the network never went quiet"
        assert not net.counters.session_errors, net.counters.session_errors
        expected: dict[str, Crdt] = {}
        for name, delta in self.made:
            if name not in expected:
                expected[name] = type(delta)()
            expected[name].merge(delta)
        for node in net.replicas.values():
            for name, state in expected.items():
                held = node.state.objects.get(name, type(state)())
                assert held == state, f"{node.id} diverged on {name}: {held!r} != {state!r}"
        for name, delta in self.made:
            for node in net.replicas.values():
                assert node.state.objects[name].novel(delta) is None, "an update was lost"
        assert net.converged()


def machine_settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples * (20 if LONG else 1),
        stateful_step_count=steps,
        derandomize=not LONG,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
