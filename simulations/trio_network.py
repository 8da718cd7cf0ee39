"""The same fault model under trio's `MockClock` (autojump): real `Replica`s, containers and
`SessionDriver`s over in-memory links that delay, lose, duplicate and reorder frames, with
partitions and crashes. Time jumps whenever every task sleeps, so an hour takes a blink.

What a crash means here. `Replica` keeps its state in memory only, so a crash loses all of it,
and the replica must come back under a new id: reusing the id would reuse dots that peers have
already seen with other meanings. Its updates that had not reached a peer are gone, exactly as
they would be for a real in-memory replica; the durable case (same id, state restored) is the
discrete-event network's. Runs are seeded: link faults come from one `Random`, and trio's own
scheduling tie-breaks are seeded too (through the hook hypothesis uses).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import trio
import trio.testing

from antientropy import collect_garbage
from crdtstate.buffer import DeltaBuffer
from crdtstate.replica import Replica
from crdtstate.types import AWSet, GCounter, PNCounter
from transport.channel import ChannelClosed
from transport.driver import SessionDriver
from transport.limits import Limits

from .links import LinkModel
from .metrics import Traffic
from .scenarios import Progress, Report

# Simulated links are fast and lossy: resend soon, and give a handshake across a faulty
# link time to get through.
LINK_LIMITS = Limits(retransmit_after=0.5, handshake_timeout=60.0)


class FaultyEnd:
    """One end of a simulated connection, a `transport.FrameChannel`."""

    def __init__(self, link: FaultyLink, name: str) -> None:
        self.link = link
        self.name = name
        self._send, self._receive = trio.open_memory_channel[bytes](math.inf)
        self.closed = False

    async def send(self, frame: bytes) -> None:
        if self.closed:
            raise ChannelClosed("connection closed")
        self.link.transmit(self, frame)
        await trio.lowlevel.checkpoint()

    async def receive(self) -> bytes:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise ChannelClosed("connection closed") from exc

    async def close(self, code: int, reason: str) -> None:
        self.link.reset()
        await trio.lowlevel.checkpoint()

    def deliver(self, frame: bytes) -> None:
        if not self.closed:
            self._send.send_nowait(frame)

    def shut(self) -> None:
        self.closed = True
        self._send.close()


@dataclass(eq=False)
class FaultyLink:
    """A connection between two replicas; `reset` breaks it (both drivers then return)."""

    nursery: trio.Nursery
    model: LinkModel
    rng: random.Random
    cut: bool = False
    ends: tuple[FaultyEnd, FaultyEnd] = field(init=False)

    def __post_init__(self) -> None:
        self.ends = (FaultyEnd(self, "a"), FaultyEnd(self, "b"))

    def transmit(self, src: FaultyEnd, frame: bytes) -> None:
        if self.cut:
            return
        dst = self.ends[1] if src is self.ends[0] else self.ends[0]
        for delay in self.model.delays(self.rng):
            self.nursery.start_soon(self._arrive, delay, dst, frame)

    async def _arrive(self, delay: float, dst: FaultyEnd, frame: bytes) -> None:
        await trio.sleep(delay)
        if not self.cut:
            dst.deliver(frame)

    def reset(self) -> None:
        for end in self.ends:
            end.shut()


class TrioNetwork:
    """Replicas in a nursery, a supervisor task per link that (re)connects them."""

    def __init__(self, nursery: trio.Nursery, seed: int, *, buffer_bytes: int = 1 << 20) -> None:
        self.nursery = nursery
        self.rng = random.Random(seed)
        self.replicas: dict[str, Replica] = {}  # by slot name; the id changes on restart
        self.drivers: list[SessionDriver] = []
        self.links: dict[tuple[str, str], FaultyLink | None] = {}
        self.cut: set[tuple[str, str]] = set()
        self.model = LinkModel()
        self._buffer_bytes = buffer_bytes
        self._generation: dict[str, int] = {}
        self._changed = trio.Event()

    def add(self, slot: str) -> Replica:
        generation = self._generation.get(slot, 0)
        replica = Replica(
            slot if not generation else f"{slot}#{generation}",
            buffer=DeltaBuffer(max_bytes=self._buffer_bytes),
        )
        self.replicas[slot] = replica
        self._notify()
        return replica

    def connect(self, a: str, b: str) -> None:
        self.links[(a, b)] = None
        self.nursery.start_soon(self._supervise, a, b)

    def partition(self, side: set[str]) -> None:
        for a, b in self.links:
            if (a in side) != (b in side):
                self.cut.add((a, b))
        self._apply_cuts()

    def heal(self) -> None:
        self.cut.clear()
        self._apply_cuts()

    def crash(self, slot: str) -> None:
        """Lose everything of an in-memory replica; `restart` brings a new id in its place."""
        self.replicas.pop(slot).close()
        for (a, b), link in self.links.items():
            if slot in (a, b) and link is not None:
                link.reset()
        self._notify()

    def restart(self, slot: str) -> Replica:
        self._generation[slot] = self._generation.get(slot, 0) + 1
        return self.add(slot)

    def traffic(self) -> Traffic:
        return Traffic.of(d.session for d in self.drivers)

    def converged(self) -> bool:
        return len({r.digest() for r in self.replicas.values()}) == 1

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _apply_cuts(self) -> None:
        for key, link in self.links.items():
            if link is not None:
                link.cut = key in self.cut

    def _collect(self, replica: Replica) -> None:
        sessions = [
            d.session for d in self.drivers if d.replica is replica and not d.ended.is_set()
        ]
        collect_garbage(replica.buffer, sessions, replica.resume_points)

    async def _supervise(self, a: str, b: str) -> None:
        while True:
            while a not in self.replicas or b not in self.replicas:
                await self._changed.wait()
            link = FaultyLink(self.nursery, self.model, self.rng, cut=(a, b) in self.cut)
            self.links[(a, b)] = link
            ra, rb = self.replicas[a], self.replicas[b]
            pair = [
                SessionDriver(
                    replica,
                    end,
                    outbound=end is link.ends[0],
                    on_progress=lambda r=replica: self._collect(r),
                    limits=LINK_LIMITS,
                    ordered=False,  # the faulty link loses, duplicates and reorders frames
                )
                for replica, end in ((ra, link.ends[0]), (rb, link.ends[1]))
            ]
            self.drivers.extend(pair)
            async with trio.open_nursery() as nursery:
                for driver in pair:
                    nursery.start_soon(self._run, driver, link)
            self.links[(a, b)] = None
            await trio.sleep(self.rng.uniform(0.05, 0.5))  # reconnect backoff

    async def _run(self, driver: SessionDriver, link: FaultyLink) -> None:
        await driver.run()
        link.reset()  # either side ending breaks the connection for both
        self._collect(driver.replica)


async def _writer(net: TrioNetwork, slot: str, rng: random.Random, until: float) -> None:
    i = 0
    while trio.current_time() < until:
        await trio.sleep(rng.expovariate(5.0))
        replica = net.replicas.get(slot)
        if replica is None:
            continue
        i += 1
        roll = rng.random()
        if roll < 0.5:
            await replica.container("tags", AWSet).update(lambda s, i=i: s.add(f"{slot}-{i % 40}"))
        elif roll < 0.6:
            await replica.container("tags", AWSet).update(
                lambda s, i=i: s.discard(f"{slot}-{i % 7}")
            )
        elif roll < 0.8:
            await replica.container("hits", GCounter).update(lambda n: n.increment())
        else:
            await replica.container("balance", PNCounter).update(lambda n: n.decrement(2))


async def run_trio_scenario(seed: int, progress: Progress, duration: float = 120.0) -> Report:
    rng = random.Random(seed)
    slots = ["r0", "r1", "r2", "r3"]
    async with trio.open_nursery() as nursery:
        net = TrioNetwork(nursery, seed)
        net.model = LinkModel(latency=0.005, jitter=0.02, loss=0.05, duplicate=0.05)
        for slot in slots:
            net.add(slot)
        for i, a in enumerate(slots):
            for b in slots[i + 1 :]:
                net.connect(a, b)
        start = trio.current_time()
        times: list[float] = []
        wire: list[float] = []
        async with trio.open_nursery() as writers:
            for slot in slots:
                writer_rng = random.Random(rng.random())
                writers.start_soon(_writer, net, slot, writer_rng, start + duration)
            for t in range(int(duration)):
                await trio.sleep(1.0)
                progress(0.8 * t / duration)
                times.append(float(t))
                wire.append(net.traffic().bytes / 1024)
                if t == int(duration * 0.2):
                    net.partition({"r0", "r1"})
                if t == int(duration * 0.5):
                    net.heal()
                if t == int(duration * 0.6):
                    net.crash("r3")
                if t == int(duration * 0.7):
                    net.restart("r3")
        healed = trio.current_time()
        with trio.move_on_after(600):
            while not net.converged():
                await trio.sleep(0.1)
        converged_after = trio.current_time() - healed
        ok = net.converged()
        traffic = net.traffic()
        nursery.cancel_scope.cancel()
    progress(1.0)
    values = {slot: await r.container("hits", GCounter).get() for slot, r in net.replicas.items()}
    return Report(
        "Real replicas and drivers under MockClock: loss, duplication, a partition, a crash",
        ["measure", "value"],
        [
            ["converged", ok],
            ["simulated seconds to converge after the writers stopped", f"{converged_after:.2f}"],
            ["replica ids at the end", " ".join(r.id for r in net.replicas.values())],
            ["hits on every replica", sorted(set(values.values()))],
            ["frames / bytes sent", f"{traffic.frames:,} / {traffic.bytes:,}"],
            ["payload share", f"{1 - traffic.metadata_share:.1%}"],
            ["retransmissions / resyncs", f"{traffic.retransmits} / {traffic.resyncs}"],
        ],
        series={"KiB sent so far": (times, wire)},
        ylabel="KiB",
    )


def seed_trio_scheduler(seed: int) -> None:
    """Make trio's scheduling replayable: what trio's hypothesis plugin does (sort each batch
    of runnable tasks by creation order, then shuffle it with a seeded generator). These are
    private names; if a trio release drops them, runs are merely not replayable."""
    run_module = getattr(trio._core, "_run", None)
    scheduler_random = getattr(run_module, "_r", None)
    if isinstance(scheduler_random, random.Random):
        scheduler_random.seed(seed)
        run_module._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[union-attr]


def trio_scenario(seed: int, progress: Progress) -> Report:
    seed_trio_scheduler(seed)
    clock = trio.testing.MockClock(autojump_threshold=0)
    return trio.run(run_trio_scenario, seed, progress, clock=clock)
