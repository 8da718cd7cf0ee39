"""A durable replica that updates until it is killed (run by tests/test_durability_kill.py).

    python durability_child.py DB RECORDS PEER_URL RUN

It reopens (or creates) replica "child" at DB, dials the peer, prints "ready", then four tasks
update forever: adds to and removes from two sets, and increments a counter. Around every
update it appends a line to RECORDS with a single write: "B ..." before calling `update`,
"D ..." after it returned. So "D" lines are exactly the acknowledged updates, and an update
without a "B" line was never attempted.
"""

from __future__ import annotations

import os
import random
import sys

import trio

from crdtstate import AWSet, GCounter, Replica
from crdtstate.storage import SnapshotPolicy
from transport import open_mesh

SETS = ("s0", "s1")
TASKS = 4
KEEP = 80  # a set holding more of our elements than this gets removals, so it stays small


async def main(db: str, records: str, peer_url: str, run: int) -> None:
    fd = os.open(records, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(line: str) -> None:
        os.write(fd, (line + "\n").encode())

    async with Replica.open("child", db, snapshots=SnapshotPolicy(groups=64)) as replica:
        sets = {name: replica.container(name, AWSet) for name in SETS}
        counter = replica.container("c", GCounter)
        present = {
            name: sorted(e for e in await s.get() if str(e).startswith("r"))
            for name, s in sets.items()
        }
        async with open_mesh(replica, listen=None, peers=[peer_url]) as mesh:
            with trio.fail_after(20):
                await mesh.wait_for_peers({"peer"})
            print("ready", flush=True)

            async def updater(task: int) -> None:
                rng = random.Random(run * 100 + task)
                for i in range(10**9):
                    name = rng.choice(SETS)
                    if rng.random() < 0.3:
                        record("B inc")
                        await counter.update(lambda n: n.increment())
                        record("D inc")
                    elif len(present[name]) > KEEP:
                        element = present[name].pop(rng.randrange(len(present[name])))
                        record(f"B rm {name} {element}")
                        await sets[name].update(lambda s, e=element: s.discard(e))
                        record(f"D rm {name} {element}")
                    else:
                        element = f"r{run}-t{task}-{i}"
                        record(f"B add {name} {element}")
                        await sets[name].update(lambda s, e=element: s.add(e))
                        record(f"D add {name} {element}")
                        present[name].append(element)

            async with trio.open_nursery() as nursery:
                for task in range(TASKS):
                    nursery.start_soon(updater, task)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
