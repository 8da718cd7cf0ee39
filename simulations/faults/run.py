"""The fault run: three durable replica processes in a full mesh over real websockets, each link
through a `LinkProxy`; processes SIGKILLed and restarted, links cut and stalled, on a seeded
schedule (`plan.py`), while every process updates every kind. After the last fault heals the
processes finish their updates on a healthy network, are given time to converge, stop
cleanly, and their databases are read back here and checked against their ledgers
(`check.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import trio

from crdtstate import AWSet, Crdt, Document, GCounter, ORMap, Replica
from crdtstate.storage import read_database

from .check import FinalState, Verdict, check
from .ledger import Ledger
from .plan import LINKS, REPLICAS, Fault, plan_faults
from .process import ReplicaProcess
from .proxy import LinkProxy

TICK = 0.02
MIN_SPAN = 0.01  # a fault lasts at least this fraction of the updates


@dataclass(frozen=True)
class FaultConfig:
    seed: int = 0
    updates: int = 10_000
    kills: int = 3
    cuts: int = 4
    stalls: int = 2
    tasks: int = 3  # concurrent updaters per process
    rate: float = 100.0  # updates per second per process (0: as fast as it can)
    settle: float = 60.0  # the most seconds to wait for convergence after the updates


@dataclass
class FaultReport:
    config: FaultConfig
    verdict: Verdict
    faults: list[str] = field(default_factory=list)  # what happened, in order
    kills: int = 0
    durable_checked: int = 0  # updates a killed process acknowledged, looked for in its database
    durable_lost: int = 0
    cut_connections: int = 0
    settled_in: float | None = None  # seconds from the last update to equal digests
    reconnects: list[float] = field(default_factory=list)  # seconds from a heal to a new link
    unhealed: list[str] = field(default_factory=list)  # links never reconnected after a heal
    interrupted: list[float] = field(default_factory=list)  # seconds healed links waited in
    # vain before another fault cut them again or killed one end
    seconds: float = 0.0


def final_state(replica: str, objects: Mapping[str, Crdt | None], digest: str = "") -> FinalState:
    counter, tags, keys, doc = (objects.get(name) for name in ("hits", "tags", "keys", "doc"))
    return FinalState(
        replica=replica,
        counts=dict(counter.counts) if isinstance(counter, GCounter) else {},
        elements=frozenset(tags.value) if isinstance(tags, AWSet) else frozenset(),
        entries=dict(keys.value) if isinstance(keys, ORMap) else {},
        text=doc.value.get("body", "") if isinstance(doc, Document) else "",
        digest=digest,
    )


async def read_final(db: Path) -> FinalState:
    """The state a stopped process left in its database, opened here as a user would."""
    async with Replica.open(path=db) as replica:
        objects = {name: replica.snapshot(name) for name in replica.names()}
        return final_state(replica.id, objects, replica.digest())


async def read_after_kill(db: Path) -> FinalState:
    """What a killed process's database holds, read without writing to it (its restart must
    do its own recovery)."""
    stored = await trio.to_thread.run_sync(read_database, db)
    return final_state(stored.replica_id, stored.objects)


class FaultRun:
    def __init__(self, config: FaultConfig, workdir: Path, say: Callable[[str], None]) -> None:
        self.config = config
        self.workdir = workdir
        self.say = say
        self.proxies = {link: LinkProxy("r{}-r{}".format(*link)) for link in LINKS}
        self.replicas: list[ReplicaProcess] = []
        self.report = FaultReport(config, Verdict(checked={}))
        self.anomalies: list[str] = []
        # links healed (restored, or both ends listening again) until a connection goes
        # through again: link -> (when healed, connections it had forwarded by then)
        self.healing: dict[tuple[int, int], tuple[float, int]] = {}

    def log(self, event: str) -> None:
        line = f"{self.progress():6.1%} {event}"
        self.report.faults.append(line)
        self.say(line)

    def progress(self) -> float:
        return sum(r.acked for r in self.replicas) / max(1, self.config.updates)

    async def main(self) -> FaultReport:
        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            for proxy in self.proxies.values():
                await nursery.start(proxy.serve)
            # The higher index dials the lower one, through the proxy of their link.
            self.replicas = [
                ReplicaProcess(
                    i,
                    self.workdir,
                    self.config,
                    [f"ws://127.0.0.1:{self.proxies[lo, i].port}" for lo in range(i)],
                )
                for i in range(REPLICAS)
            ]
            for replica in self.replicas:
                await self.start(nursery, replica)
            await self.play(
                nursery,
                plan_faults(
                    self.config.seed, self.config.kills, self.config.cuts, self.config.stalls
                ),
            )
            await self.settle()
            for replica in self.replicas:
                if replica.exited.is_set() and not replica.expected_exit:
                    self.anomalies.append(f"r{replica.index} exited by itself while settling")
                if not await replica.stop():
                    self.anomalies.append(f"r{replica.index} did not stop when asked")
            nursery.cancel_scope.cancel()
        finals = [await read_final(r.db) for r in self.replicas]
        ledger = Ledger.read(self.ledgers())
        self.report.verdict = check(ledger, finals)
        self.report.verdict.anomalies[:0] = self.anomalies
        self.report.cut_connections = sum(p.cut_connections for p in self.proxies.values())
        self.report.seconds = trio.current_time() - started
        return self.report

    async def start(self, nursery: trio.Nursery, replica: ReplicaProcess) -> None:
        def listening(port: int) -> None:
            for (lo, _), proxy in self.proxies.items():
                if lo == replica.index:
                    proxy.target = port
            self.heal(
                link
                for link in LINKS
                if replica.index in link
                and not self.proxies[link].is_cut
                and all(self.replicas[i].alive for i in link)
            )

        await replica.start(nursery, listening)

    async def play(self, nursery: trio.Nursery, faults: list[Fault]) -> None:
        """Run the updates, firing each fault's start and end when progress reaches them. A
        fault lasts at least MIN_SPAN of the updates (progress may have run past its end
        while a process restarted); steps fire at once when no process is updating."""
        steps = sorted(
            [(f.start, True, f) for f in faults] + [(f.end, False, f) for f in faults],
            key=lambda s: s[0],
        )
        began: dict[Fault, float] = {}

        def due(at: float, begins: bool, fault: Fault) -> bool:
            if not any(r.working for r in self.replicas):
                return True
            now = self.progress()
            return at <= now and (begins or now >= began[fault] + MIN_SPAN)

        last_said = trio.current_time()
        while steps or any(r.working for r in self.replicas):
            await self.restart_crashed(nursery)
            self.watch_heals()
            while steps and due(*steps[0]):
                _, begins, fault = steps.pop(0)
                if begins:
                    began[fault] = self.progress()
                    await self.begin(fault)
                else:
                    await self.end(nursery, fault)
            if trio.current_time() - last_said >= 2:
                last_said = trio.current_time()
                acked = sum(r.acked for r in self.replicas)
                self.say(f"{self.progress():6.1%} {acked} updates acknowledged; {self.links()}")
            await trio.sleep(TICK)

    async def restart_crashed(self, nursery: trio.Nursery) -> None:
        """A process that exited unasked is an anomaly; it is restarted to finish the run."""
        for replica in self.replicas:
            process = replica.process
            if process is not None and replica.exited.is_set() and not replica.expected_exit:
                what = f"r{replica.index} run {replica.run} exited by itself ({process.returncode})"
                self.anomalies.append(what)
                self.log(f"{what}: restarting")
                await self.start(nursery, replica)

    def links(self) -> str:
        return " ".join(f"{p.name}:{p.state}" for p in self.proxies.values())

    async def begin(self, fault: Fault) -> None:
        if fault.kind == "kill":
            replica = self.replicas[fault.target[0]]
            code = await replica.kill()
            self.report.kills += 1
            self.unheal(link for link in LINKS if replica.index in link)
            self.log(f"SIGKILL r{replica.index} run {replica.run} (exit {code})")
        elif fault.kind == "cut":
            closed = self.proxies[fault.target].cut()
            self.unheal([fault.target])
            self.log(f"cut {self.proxies[fault.target].name} ({closed} connections closed)")
        else:
            self.proxies[fault.target].stall()
            self.log(f"stall {self.proxies[fault.target].name}")

    async def end(self, nursery: trio.Nursery, fault: Fault) -> None:
        if fault.kind == "kill":
            replica = self.replicas[fault.target[0]]
            await self.check_durable(replica)
            await self.start(nursery, replica)  # its links heal once it listens
            self.log(f"restarted r{replica.index} as run {replica.run}")
        else:
            self.proxies[fault.target].restore()
            if fault.kind == "cut":
                self.heal([fault.target])
            self.log(f"restored {self.proxies[fault.target].name}")

    def heal(self, links: Iterable[tuple[int, int]]) -> None:
        """Start timing these links' reconnection: both ends are up and nothing cuts them."""
        for link in links:
            self.healing[link] = (trio.current_time(), self.proxies[link].connections)

    def unheal(self, links: Iterable[tuple[int, int]]) -> None:
        """These links cannot reconnect now (cut, or one end killed): stop timing them, and
        note how long one that had not reconnected yet waited in vain."""
        for link in links:
            healing = self.healing.pop(link, None)
            if healing is not None:
                self.report.interrupted.append(trio.current_time() - healing[0])

    def watch_heals(self) -> None:
        """Note how long each healed link took to carry a new connection."""
        for link, (healed, connections) in list(self.healing.items()):
            if self.proxies[link].connections > connections:
                self.report.reconnects.append(trio.current_time() - healed)
                del self.healing[link]

    async def check_durable(self, replica: ReplicaProcess) -> None:
        """A killed process's database holds every update it acknowledged (its own: the
        others' may not have reached it). The database is read before the ledgers, so every
        update it holds was begun in some ledger."""
        name = f"r{replica.index}"
        held = await read_after_kill(replica.db)
        ledger = Ledger.read(self.ledgers(), acked_by=name)
        verdict = check(ledger, [held])
        self.report.durable_checked += ledger.total_acked
        self.report.durable_lost += verdict.lost_total
        if verdict.lost_total or verdict.anomalies:
            self.anomalies.append(
                f"{name}'s database after SIGKILL of run {replica.run}: "
                f"{verdict.lost_total} acknowledged updates missing {verdict.examples()}"
                f"{verdict.anomalies[:3]}"
            )
        self.log(
            f"{name}'s database after SIGKILL holds {ledger.total_acked - verdict.lost_total}"
            f" of the {ledger.total_acked} updates it acknowledged"
        )

    def ledgers(self) -> dict[str, Path]:
        return {f"r{r.index}": r.ledger for r in self.replicas}

    async def settle(self) -> None:
        """Wait (at most `settle` seconds) for every process to report the same digest, and
        every healed link to carry a connection again."""
        start = trio.current_time()
        self.say(f"all {sum(r.acked for r in self.replicas)} updates made; waiting for convergence")
        with trio.move_on_after(self.config.settle):
            while (
                len({r.status.get("digest") for r in self.replicas}) != 1
                or self.replicas[0].status.get("digest") is None
            ):
                self.watch_heals()
                await trio.sleep(TICK)
            self.report.settled_in = trio.current_time() - start
            while self.healing:
                self.watch_heals()
                await trio.sleep(TICK)
        for link, (healed, _) in self.healing.items():
            name = self.proxies[link].name
            self.report.unhealed.append(f"{name} ({trio.current_time() - healed:.0f}s ago)")
        if self.report.settled_in is None:
            self.say(f"no convergence within {self.config.settle}s: checking anyway")


async def run_faults(
    config: FaultConfig, workdir: Path, say: Callable[[str], None] = lambda _: None
) -> FaultReport:
    """Run the fault scenario in `workdir` (databases, ledgers, process logs) and check it."""
    return await FaultRun(config, workdir, say).main()
