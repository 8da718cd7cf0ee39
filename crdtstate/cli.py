"""The `crdtstate` command: the composition root (the one crdtstate module that may import
`transport` and `simulations`, inside its command functions)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crdtstate", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="three replicas on loopback converging")
    demo.add_argument("--updates", type=int, default=20, help="updates per replica")

    serve = commands.add_parser("serve", help="run a standalone replica node")
    serve.add_argument("--id", help="this replica's id (unique per node; stored in --db)")
    serve.add_argument("--db", help="SQLite database to keep the replica in (created if absent)")
    serve.add_argument(
        "--durability",
        choices=["process", "power"],
        default="process",
        help="with --db: survive the process being killed (default) or also power loss",
    )
    serve.add_argument("--listen", default="127.0.0.1:7700", help="host:port to listen on")
    serve.add_argument("--peer", action="append", default=[], help="ws://host:port (repeat)")
    serve.add_argument("--secret-file", help="file holding the shared secret")
    serve.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    serve.add_argument("--tls-cert", help="PEM certificate chain: listen with wss://")
    serve.add_argument("--tls-key", help="PEM private key for --tls-cert")
    serve.add_argument("--tls-ca", help="PEM CA bundle trusted when dialing wss:// peers")
    serve.add_argument(
        "--yjs-token-file", help="serve Yjs (y-websocket) clients, who must send this token"
    )
    serve.add_argument("--yjs-prefix", default="/yjs/", help="path prefix of Yjs rooms")

    inspect = commands.add_parser("inspect", help="describe a replica database (read-only)")
    inspect.add_argument("path", help="the database file")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")

    args = parser.parse_args(argv)
    if args.command == "serve" and not (args.id or args.db):
        parser.error("serve needs --id, --db, or both")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    import trio

    if args.command == "demo":
        return trio.run(run_demo, args.updates)
    if args.command == "inspect":
        return run_inspect(args.path, as_json=args.json)
    from transport.node import NodeConfig, run_node

    secret = None
    if args.secret_file:
        with open(args.secret_file, "rb") as f:
            secret = f.read().strip()
        if not secret:
            parser.error(f"--secret-file {args.secret_file} is empty")
    yjs_token = None
    if args.yjs_token_file:
        with open(args.yjs_token_file) as f:
            yjs_token = f.read().strip()
        if not yjs_token:
            parser.error(f"--yjs-token-file {args.yjs_token_file} is empty")
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    config = NodeConfig(
        replica_id=args.id,
        listen=args.listen,
        peers=args.peer,
        secret=secret,
        metrics_port=args.metrics_port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_ca=args.tls_ca,
        db=args.db,
        durability=args.durability,
        yjs_token=yjs_token,
        yjs_prefix=args.yjs_prefix,
    )
    return trio.run(run_node, config)


def run_inspect(path: str, *, as_json: bool) -> int:
    """Print what the database at `path` holds; exit 1 with the reason if it cannot be read."""
    import json

    from .errors import StorageError
    from .storage.inspect import describe, jsonable, render

    try:
        info = describe(path)
    except StorageError as exc:
        print(f"crdtstate inspect: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(jsonable(info), indent=2) if as_json else render(info))
    return 0


async def run_demo(updates: int) -> int:
    """Three replicas on loopback make concurrent updates; print their values converging."""
    import trio

    from transport import open_mesh

    from . import AWSet, PNCounter, Replica

    names = ("alpha", "beta", "gamma")
    print(f"crdtstate demo: 3 replicas on loopback, {updates} concurrent updates each\n")
    async with (
        Replica.open(names[0]) as a,
        Replica.open(names[1]) as b,
        Replica.open(names[2]) as c,
    ):
        replicas = (a, b, c)
        async with (
            open_mesh(a) as mesh_a,
            open_mesh(b, peers=[mesh_a.url]) as mesh_b,
            open_mesh(c, peers=[mesh_a.url, mesh_b.url]) as mesh_c,
        ):
            print(f"  {a.id} listens on {mesh_a.url}; {b.id} and {c.id} dial in")
            with trio.fail_after(10):
                for mesh in (mesh_a, mesh_b, mesh_c):
                    await mesh.wait_for_peers(2)
            print("  mesh connected: every replica has a session with the other two\n")

            async def work(replica: Replica) -> None:
                hits = replica.container("requests", PNCounter)
                tools = replica.container("tools", AWSet)
                for i in range(updates):
                    await hits.update(lambda n: n.increment())
                    await tools.update(lambda s, i=i: s.add(f"{replica.id}-tool-{i % 3}"))
                await tools.update(lambda s: s.discard(f"{replica.id}-tool-0"))

            started = trio.current_time()
            async with trio.open_nursery() as nursery:
                for replica in replicas:
                    nursery.start_soon(work, replica)
            await _print_values(replicas, "right after the updates (sync in flight)")
            with trio.fail_after(10):
                while len({r.digest() for r in replicas}) > 1:
                    await trio.sleep(0.005)
            elapsed = (trio.current_time() - started) * 1000
            await _print_values(replicas, f"converged {elapsed:.0f} ms after the first update")
            expected = 3 * updates
            total = await a.container("requests", PNCounter).get()
            verdict = "OK" if total == expected else f"WRONG (expected {expected})"
            print(f"  requests = {total} on every replica: {verdict}")
            return 0 if total == expected else 1


async def _print_values(replicas: Sequence[object], title: str) -> None:
    from . import AWSet, PNCounter

    print(f"  {title}:")
    for replica in replicas:
        hits = await replica.container("requests", PNCounter).get()  # type: ignore[attr-defined]
        tools = await replica.container("tools", AWSet).get()  # type: ignore[attr-defined]
        digest = replica.digest()[:10]  # type: ignore[attr-defined]
        print(f"    {replica.id:>6}  requests={hits:<4} tools={len(tools):<2} digest={digest}")  # type: ignore[attr-defined]
    print()


if __name__ == "__main__":
    sys.exit(main())
