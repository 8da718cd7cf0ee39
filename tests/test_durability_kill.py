"""Nothing `update` acknowledged is lost when the process is killed with SIGKILL (DESIGN §7).

A child process (tests/durability_child.py) runs a durable replica that dials a peer in this
process over a real websocket and updates until it is killed, at a seeded random moment: during
start-up, recovery, group commits or snapshots. After each kill the database is reopened here
and must hold every update the child recorded as returned. The peer, which received deltas
from the child before the crash, is then synchronised with the reopened replica by a digest
exchange: both must end with the same values. Had the child handed out a dot twice (a dot sent
before the crash, reused after it), one side would silently drop the other's update and the
values would differ.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import trio

from crdtstate import AWSet, GCounter, Replica
from transport import open_mesh

from .transport.helpers import converge

CHILD = Path(__file__).with_name("durability_child.py")
KILLS = 24
SEED = 20240601
SETS = ("s0", "s1")


@dataclass
class Records:
    """What the child recorded: updates begun ("B") and returned from ("D")."""

    added: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SETS})
    begun_adds: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    begun_removes: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def read(cls, path: Path) -> Records:
        records = cls()
        if not path.exists():
            return records
        for line in path.read_text().splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # a line the kill cut short
            phase, op, *args = line.split()
            records.counts[phase + op] += 1
            if op == "add":
                (records.added[args[0]] if phase == "D" else records.begun_adds).add(args[1])
            elif op == "rm":
                (records.removed if phase == "D" else records.begun_removes).add(args[1])
        return records


def check_holds(records: Records, sets: dict[str, frozenset[object]], child_count: int) -> int:
    """Every returned update is in `sets` / `child_count`; nothing unattempted is. Returns the
    number of returned updates verified."""
    for name, elements in sets.items():
        ours = {e for e in elements if isinstance(e, str) and e.startswith("r")}
        missing = records.added[name] - records.begun_removes - ours
        assert not missing, f"{name}: acknowledged adds lost: {sorted(missing)[:5]}"
        assert not ours & records.removed, f"{name}: acknowledged removes undone"
        assert ours <= records.begun_adds, f"{name}: elements nobody added"
    assert records.counts["Dinc"] <= child_count <= records.counts["Binc"]
    return sum(len(a) for a in records.added.values()) + len(records.removed) + child_count


async def values(replica: Replica) -> tuple[dict[str, frozenset[object]], dict[str, int]]:
    sets = {name: await replica.container(name, AWSet).get() for name in SETS}
    counter = replica.snapshot("c")
    counts = dict(counter.counts) if isinstance(counter, GCounter) else {}
    return sets, counts


def check_peer_saw_only_durable(peer: Replica, child: Replica) -> None:
    """Every update of the child's that reached the peer survived the kill."""
    for name in SETS:
        theirs, ours = peer.snapshot(name), child.snapshot(name)
        if isinstance(theirs, AWSet) and isinstance(ours, AWSet):
            lost = [
                d for d in theirs.context.dots() if d.replica == "child" and d not in ours.context
            ]
            assert not lost, f"{name}: the peer holds dots the child lost: {lost[:5]}"
    theirs_c, ours_c = peer.snapshot("c"), child.snapshot("c")
    if isinstance(theirs_c, GCounter) and isinstance(ours_c, GCounter):
        assert theirs_c.counts.get("child", 0) <= ours_c.counts.get("child", 0)


def assert_same(
    ours: tuple[dict[str, frozenset[object]], dict[str, int]],
    theirs: tuple[dict[str, frozenset[object]], dict[str, int]],
) -> None:
    """Equal values, with the difference spelled out when not."""
    for name in SETS:
        only_ours, only_theirs = ours[0][name] - theirs[0][name], theirs[0][name] - ours[0][name]
        assert not only_ours and not only_theirs, (name, sorted(only_ours), sorted(only_theirs))  # type: ignore[type-var]
    assert ours[1] == theirs[1]


async def exchange(a: Replica, b: Replica) -> None:
    """One digest exchange each way, as a session does on connect."""
    await b.apply_remote(a.deltas_since(b.object_digests()), origin=a.id)
    await a.apply_remote(b.deltas_since(a.object_digests()), origin=b.id)


async def run_child(
    db: Path, records: Path, peer: Replica, url: str, run: int, rng: random.Random
) -> bool:
    """Start the child and SIGKILL it at a random moment. Returns whether it was killed while
    updating, after the peer had received deltas from this run."""
    stderr = db.with_name(f"child-{run}.err")
    with open(stderr, "wb") as err:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-P", str(CHILD), str(db), str(records), url, str(run)],
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert process.stdout is not None
    early = rng.random() < 0.25
    if early:
        await trio.sleep(rng.uniform(0.0, 0.6))  # maybe during start-up or recovery
    else:
        before = peer.buffer.sequence
        with trio.fail_after(30):  # a hang guard: the child is ready within a second or two
            ready = await process.stdout.receive_some(64)
            assert ready.startswith(b"ready"), (ready, stderr.read_text())
            while peer.buffer.sequence == before:
                await trio.sleep(0.001)  # the peer has a delta from this run
        await trio.sleep(rng.uniform(0.0, 0.3))
    process.kill()
    await process.wait()
    await process.stdout.aclose()
    assert process.returncode == -signal.SIGKILL, stderr.read_text()
    return not early


async def test_sigkill_at_random_moments_loses_no_acknowledged_update(tmp_path: Path) -> None:
    db, log = tmp_path / "child.db", tmp_path / "records.log"
    rng = random.Random(SEED)
    verified = delivered = 0
    async with Replica.open("peer") as peer, open_mesh(peer) as mesh:
        for run in range(KILLS):
            delivered += await run_child(db, log, peer, mesh.url, run, rng)
            records = Records.read(log)
            async with Replica.open("child", db) as child:
                sets, counts = await values(child)
                probes = run  # one unrecorded increment per earlier iteration, below
                verified = check_holds(records, sets, counts.get("child", 0) - probes)
                check_peer_saw_only_durable(peer, child)
                # Fresh updates take the next dots: reused ones would vanish in the exchange.
                for name in SETS:
                    await child.container(name, AWSet).update(lambda s, r=run: s.add(f"probe-{r}"))
                await child.container("c", GCounter).update(lambda n: n.increment())
                await exchange(child, peer)  # StaleReplicaError if the kill lost a write
                assert child.own_writes.stale is None
                assert_same(await values(child), await values(peer))
                assert child.digest() == peer.digest()
                assert all(f"probe-{run}" in s for s in (await values(peer))[0].values())
            await peer.container("s0", AWSet).update(lambda s, r=run: s.add(f"peer-{r}"))
            await peer.container("c", GCounter).update(lambda n: n.increment())

        # Last, the reopened child and the peer sync over the real websocket.
        await peer.container("s1", AWSet).update(lambda s: s.add("peer-final"))
        async with Replica.open("child", db) as child:
            async with open_mesh(child, listen=None, peers=[mesh.url]):
                await converge([child, peer])
            assert child.own_writes.stale is None
            assert_same(await values(child), await values(peer))
            assert "peer-final" in (await values(child))[0]["s1"]
            sets, counts = await values(child)
            check_holds(records, sets, counts.get("child", 0) - KILLS)

    print(
        f"{KILLS} kills, {verified} acknowledged updates verified, "
        f"{delivered} runs delivered deltas to the peer before the kill"
    )
    assert records.counts["Dadd"] > KILLS * 10  # the child did real work between kills
    assert delivered >= KILLS // 2  # most kills hit a child whose deltas the peer holds
