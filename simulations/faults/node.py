"""One replica process of the fault run (started by `simulations.faults.run`, not by hand).

    python -m simulations.faults.node --index I --db DB --ledger FILE --run R --quota Q
        --seed S [--peer ws://127.0.0.1:PORT ...] [--tasks T] [--rate R]

Opens the durable replica `r<I>` at DB, listens on a fresh loopback port and dials its peers
(through the run's link proxies). Prints one JSON line with its URL, then a status line every
0.1 s. `T` tasks make Q updates in all, of every kind: GCounter increments, AWSet adds and
removes, ORMap puts and deletes, and live document edits (token inserts at random token
boundaries, deletions of filler tokens). Every update is written to the ledger (`ledger.py`).
Then it keeps serving until a line "stop" (or end of file) arrives on stdin, and closes
cleanly. Choices are seeded by (seed, index, run, task), so a run replays the same workload.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
from dataclasses import dataclass

import trio

from crdtstate import AWSet, Document, GCounter, ORMap, Replica
from crdtstate.containers.dochandle import DocumentRoots
from crdtstate.containers.handles import CounterHandle, SetHandle
from crdtstate.containers.maphandle import MapHandle
from transport import Backoff, Mesh, open_mesh

from .ledger import TOKEN_WIDTH, Recorder, token

SET_SIZE = 150  # a set holding more than this gets removals rather than adds
STATUS_EVERY = 0.1


@dataclass
class Progress:
    """The process's share of the updates, paced at `rate` per second (0: unpaced), so the
    three processes advance together and the faults, placed by the run's progress, find
    each of them busy."""

    quota: int
    rate: float
    started: int = 0
    acked: int = 0
    start: float = 0.0

    async def take(self) -> bool:
        """Wait for the next update's turn; False once the share is made."""
        if self.started >= self.quota:
            return False
        self.started += 1
        if self.rate:
            await trio.sleep_until(self.start + self.started / self.rate)
        return True


class Workload:
    """The updates of one task: random kinds and ops, each recorded around its update."""

    def __init__(
        self, replica: Replica, ledger: Recorder, args: argparse.Namespace, task: int
    ) -> None:
        self.ledger = ledger
        self.rng = random.Random(f"{args.seed}/{args.index}/{args.run}/{task}")
        self.prefix = f"r{args.index}.{args.run}.{task}"
        self.token = lambda kind, n: token(kind, args.index, args.run, task, n)
        self.n = 0
        self.keys: list[str] = []  # this task's map keys, put and not deleted
        self.counter = replica.container("hits", GCounter)
        self.tags = replica.container("tags", AWSet)
        self.keyed = replica.container("keys", ORMap[str, int])
        self.doc = replica.container("doc", Document)

    async def one(self) -> None:
        self.n += 1
        roll = self.rng.random()
        if roll < 0.15:
            await self.increment()
        elif roll < 0.35:
            await self.set_op()
        elif roll < 0.55:
            await self.map_op()
        else:
            await self.doc_op()

    async def increment(self) -> None:
        self.ledger.begin("cnt", "inc", "-")
        await self.counter.update(CounterHandle.increment)
        self.ledger.done("cnt", "inc", "-")

    async def set_op(self) -> None:
        removing = self.rng.random() < 0.3
        chosen: list[tuple[str, str]] = []

        def change(s: SetHandle) -> None:
            present = sorted(s)
            if present and (removing or len(present) > SET_SIZE):
                chosen.append(("rm", self.rng.choice(present)))
                self.ledger.begin("set", *chosen[0])
                s.discard(chosen[0][1])
            else:
                chosen.append(("add", f"{self.prefix}.{self.n}"))
                self.ledger.begin("set", *chosen[0])
                s.add(chosen[0][1])

        await self.tags.update(change)
        self.ledger.done("set", *chosen[0])

    async def map_op(self) -> None:
        roll = self.rng.random()
        if self.keys and roll < 0.25:
            key = self.keys.pop(self.rng.randrange(len(self.keys)))
            self.ledger.begin("map", "del", key)
            await self.keyed.update(lambda m: m.pop(key))
            self.ledger.done("map", "del", key)
            return
        if self.keys and roll < 0.6:
            key = self.rng.choice(self.keys)
        else:
            key = f"k{self.prefix}.{self.n}"
            self.keys.append(key)
        value = self.n

        def put(m: MapHandle) -> None:
            m[key] = value

        self.ledger.begin("map", "put", key, value)
        await self.keyed.update(put)
        self.ledger.done("map", "put", key, value)

    async def doc_op(self) -> None:
        roll = self.rng.random()
        done: list[tuple[str, str]] = []

        def edit(doc: DocumentRoots) -> None:
            text = doc.text("body")
            current = str(text)
            fillers = [i for i in range(0, len(current), TOKEN_WIDTH) if current[i] == "("]
            if fillers and roll < 0.3:
                at = self.rng.choice(fillers)
                done.append(("del", current[at : at + TOKEN_WIDTH]))
                self.ledger.begin("doc", "del", done[0][1])
                del text[at : at + TOKEN_WIDTH]
            else:
                tok = self.token("marker" if roll < 0.7 else "filler", self.n)
                at = TOKEN_WIDTH * self.rng.randint(0, len(current) // TOKEN_WIDTH)
                done.append(("ins", tok))
                self.ledger.begin("doc", "ins", tok)
                text.insert(at, tok)

        await self.doc.update(edit)
        self.ledger.done("doc", *done[0])


async def report(mesh: Mesh, progress: Progress, finished: trio.Event) -> None:
    """A status line every STATUS_EVERY seconds; the digest once the updates are over."""
    replica = mesh.replica
    while True:
        status = {
            "acked": progress.acked,
            "done": finished.is_set(),
            "peers": sorted(mesh.peers),
            "digest": replica.digest() if finished.is_set() else None,
        }
        print(json.dumps(status), flush=True)
        await trio.sleep(STATUS_EVERY)


async def wait_for_stop() -> None:
    """Until the parent writes "stop" or goes away (end of file on stdin)."""
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    pending = b""
    while b"stop" not in pending:
        chunk = await stdin.receive_some(1024)
        if not chunk:
            return
        pending += chunk


async def main(args: argparse.Namespace) -> None:
    ledger = Recorder(args.ledger)
    replica_id = f"r{args.index}"
    async with Replica.open(replica_id, args.db) as replica:
        counter = replica.snapshot("hits")
        base = counter.counts.get(replica_id, 0) if isinstance(counter, GCounter) else 0
        ledger.start(args.run, base)
        progress = Progress(args.quota, args.rate)
        workloads = [Workload(replica, ledger, args, task) for task in range(args.tasks)]
        backoff = Backoff(initial=0.05, maximum=0.5)  # reconnect soon after a heal
        async with open_mesh(replica, peers=args.peer, backoff=backoff) as mesh:
            print(json.dumps({"url": mesh.url, "pid": os.getpid()}), flush=True)
            if args.run == 0:
                with trio.move_on_after(20):  # start connected, if the peers come up
                    await mesh.wait_for_peers(2)
            finished = trio.Event()
            progress.start = trio.current_time()

            async def work(workload: Workload) -> None:
                while await progress.take():
                    await workload.one()
                    progress.acked += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(report, mesh, progress, finished)
                async with trio.open_nursery() as workers:
                    for workload in workloads:
                        workers.start_soon(work, workload)
                finished.set()
                await wait_for_stop()
                nursery.cancel_scope.cancel()
    ledger.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulations.faults.node")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--run", type=int, default=0)
    parser.add_argument("--quota", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0, help="updates per second (0: unpaced)")
    parser.add_argument("--peer", action="append", default=[])
    return parser.parse_args(argv)


if __name__ == "__main__":
    # FAULTS_NODE_LOG=DEBUG logs every frame to the process's log in the run's workdir
    level = os.environ.get("FAULTS_NODE_LOG", "WARNING")
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    trio.run(main, parse())
