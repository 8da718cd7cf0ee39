"""A replica process for the multi-process tests: syncs over websockets, makes updates at a
steady rate, and prints one JSON status line per tick to stdout (first line: its URL).
`--backend asyncio` runs it on asyncio (websockets' asyncio implementation) instead of trio."""

from __future__ import annotations

import argparse
import json
import sys

import anyio
import sniffio

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
                await anyio.sleep(args.interval)

        async with anyio.create_task_group() as nursery:
            nursery.start_soon(make_updates)
            while True:
                status = {
                    "id": args.id,
                    "made": made,
                    "hits": await hits.get(),
                    "digest": replica.digest(),
                    "peers": sorted(mesh.peers),
                    "backend": sniffio.current_async_library(),
                }
                print(json.dumps(status), flush=True)
                await anyio.sleep(0.05)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--id", required=True)
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--updates", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--backend", choices=("trio", "asyncio"), default="trio")
    try:
        args = parser.parse_args()
        anyio.run(main, args, backend=args.backend)
    except KeyboardInterrupt:
        sys.exit(0)
