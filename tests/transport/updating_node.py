"""A replica process for the multi-process tests: syncs over websockets, makes updates at a
steady rate, and prints one JSON status line per tick to stdout (first line: its URL)."""

from __future__ import annotations

import argparse
import json
import sys

import trio

from crdtstate import AWSet, PNCounter, Replica
from transport import open_mesh


async def main(args: argparse.Namespace) -> None:
    async with Replica.open(args.id) as replica, open_mesh(replica, peers=args.peer) as mesh:
        hits = replica.container("hits", PNCounter)
        seen = replica.container("seen", AWSet)
        print(json.dumps({"url": mesh.url}), flush=True)
        made = 0

        async def make_updates() -> None:
            nonlocal made
            while made < args.updates:
                await hits.update(lambda n: n.increment())
                await seen.update(lambda s, made=made: s.add(f"{args.id}-{made}"))
                made += 1
                await trio.sleep(args.interval)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(make_updates)
            while True:
                status = {
                    "id": args.id,
                    "made": made,
                    "hits": await hits.get(),
                    "digest": replica.digest(),
                    "peers": sorted(mesh.peers),
                }
                print(json.dumps(status), flush=True)
                await trio.sleep(0.05)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--id", required=True)
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--updates", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0.005)
    try:
        trio.run(main, parser.parse_args())
    except KeyboardInterrupt:
        sys.exit(0)
