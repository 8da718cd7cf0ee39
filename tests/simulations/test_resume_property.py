"""Random partitions, dropped connections and restarts over the discrete-event network, where
every redialed connection between runs that remember each other resumes by claims: the
replicas still converge on every update (a claim never makes one skip data)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crdtstate.types import AWSet
from simulations.links import LinkModel
from simulations.network import Network

IDS = ("r0", "r1", "r2")

reconnect = st.tuples(st.just("reconnect"), st.integers(0, 2), st.integers(1, 2))
step = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 2), st.integers(0, 30)),
    reconnect,
    reconnect,  # (twice: the path under test)
    st.tuples(st.just("partition"), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("heal"), st.just(0), st.just(0)),
    st.tuples(st.just("advance"), st.integers(0, 20), st.just(0)),
    st.tuples(st.just("restart"), st.integers(0, 2), st.just(0)),
)


def mutate(state: AWSet, replica: str, choice: int) -> AWSet:
    """Mostly adds; every fifth choice removes (concurrent removes are where data hides)."""
    element = f"e{choice % 12}"
    if choice % 5 == 0:
        return state.remove(element, replica=replica)
    return state.add(element, replica=replica)


def run(
    steps: list[tuple[str, int, int]], seed: int, buffer_bytes: int, line: bool = False
) -> Network:
    """Play `steps`, heal, and run until quiet; every replica must then hold the join of
    every delta an update returned. `line`: r0 - r1 - r2, so what r0 writes reaches r2 by one
    path only (in a full mesh another path can hide a group a resume skipped)."""
    net = Network(seed, retransmit_after=0.2, buffer_bytes=buffer_bytes)
    expected = AWSet()
    for rid in IDS:
        net.add_replica(rid)
    pairs = [("r0", "r1"), ("r1", "r2")] if line else [("r0", "r1"), ("r1", "r2"), ("r0", "r2")]
    links = {*pairs, *((b, a) for a, b in pairs)}
    for a, b in pairs:
        net.connect(a, b, LinkModel(loss=0.1, duplicate=0.1))
    for kind, x, y in steps:
        rid = IDS[x % len(IDS)]
        if kind == "add" and net.replicas[rid].up:
            expected.merge(net.update(rid, "set", AWSet, lambda s, who, c=y: mutate(s, who, c)))
        elif kind == "reconnect" and (rid, other := IDS[(x + y) % len(IDS)]) in links:
            net.reconnect(rid, other)
        elif kind == "partition":
            net.partition({rid})
        elif kind == "heal":
            net.heal()
        elif kind == "advance":
            net.run_until(net.now + x * 0.05)
        elif kind == "restart":
            net.crash(rid)
            net.restart(rid)
        net.run_until(net.now + 0.05)  # a little time for frames to move between steps
    net.heal()
    assert net.run_until_quiet(limit=net.now + 10_000), "the network never went quiet"
    for node in net.replicas.values():
        assert node.state.objects.get("set", AWSet()) == expected, node.id
    return net


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    steps=st.lists(step, min_size=5, max_size=60),
    seed=st.integers(0, 2**16),
    buffer_bytes=st.sampled_from([400, 1 << 24]),
    line=st.booleans(),
)
def test_random_partitions_and_reconnects_converge(
    steps: list[tuple[str, int, int]], seed: int, buffer_bytes: int, line: bool
) -> None:
    net = run(steps, seed, buffer_bytes, line)
    assert not net.counters.session_errors, net.counters.session_errors
    assert net.converged()


def test_reconnects_in_such_a_run_resume_by_claims() -> None:
    """The schedule the property draws does exercise the resume path (not only digests)."""
    steps = [("add", i % 3, i) for i in range(12)] + [("advance", 20, 0)]
    # r0 - r1, then r1 - r2 (the other end is `(x + y) % 3`)
    steps += [("reconnect", 0, 1), ("add", 0, 100), ("reconnect", 1, 1), ("advance", 20, 0)]
    net = run(steps, seed=1, buffer_bytes=1 << 24)
    sessions = [*net.retired, *(s for n in net.replicas.values() for s in n.sessions.values())]
    assert sum(s.stats.claims_accepted for s in sessions) >= 4
    assert net.converged()
