"""One replica process of the mesh benchmark (run by `bench_mesh.py`, not by hand).

Roles: `updater` increments a PNCounter at a fixed rate and records when each value was made;
`watcher` subscribes to it and records when each value became visible. Times are
`time.monotonic()`, which on Linux is one clock for every process, so they can be subtracted.
Prints one JSON line with its URL when listening and one with its measurements at the end.
`--backend` picks the event loop (trio or asyncio), so the benchmark can compare them.
"""

from __future__ import annotations

import argparse
import json
import time

import anyio

from crdtstate import PNCounter, Replica
from transport import open_mesh


async def run(args: argparse.Namespace) -> None:
    async with Replica.open(args.id) as replica, open_mesh(replica, peers=args.peer) as mesh:
        counter = replica.container("hits", PNCounter)
        print(json.dumps({"url": mesh.url}), flush=True)
        with anyio.fail_after(30):
            await mesh.wait_for_peers(args.expect_peers)
        print(json.dumps({"ready": True}), flush=True)
        times: list[float] = []
        if args.role == "updater":
            await anyio.sleep(0.5)  # let the watchers see the peers too
            interval = 1.0 / args.rate
            start = anyio.current_time()
            for i in range(int(args.rate * args.duration)):
                await anyio.sleep_until(start + i * interval)
                await counter.update(lambda n: n.increment())
                times.append(time.monotonic())
            await anyio.sleep(1.0)
        else:
            total = int(args.rate * args.duration)
            async with counter.subscribe(queue_size=1) as changes:
                with anyio.move_on_after(args.duration + 20):
                    async for change in changes:
                        now = time.monotonic()
                        times.extend([now] * (change.value - len(times)))
                        if len(times) >= total:
                            break
        print(json.dumps({"id": args.id, "times": times}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--id", required=True)
    parser.add_argument("--role", choices=["updater", "watcher"], required=True)
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--expect-peers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--backend", choices=["trio", "asyncio"], default="trio")
    args = parser.parse_args()
    anyio.run(run, args, backend=args.backend)
