"""The `crdtstate` command: a demo, a standalone replica node, and a database inspector.

This module wires the library to its transport and simulations (only inside the command
functions, so importing crdtstate never pulls them in); nothing imports it. Every argument of
`serve` is checked before anything listens: a mistake is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transport.node import NodeConfig

DESCRIPTION = (
    "Replicated application state without locks or a leader: run a demo, serve a replica "
    "node that syncs with its peers, or inspect a replica's database."
)


def count(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def port(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is out of range (0 to 65535)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crdtstate", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    parser.add_argument(
        "--backend",
        choices=("trio", "asyncio"),
        default="trio",
        help="the event loop to run on (anyio backend; default trio)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="three replicas on loopback make concurrent updates and converge",
        description="Start three in-memory replicas on loopback, make concurrent updates on "
        "each, and print their values until they agree. Exit status 0 when they converge.",
    )
    demo.add_argument("--updates", type=count, default=20, help="updates per replica (>= 1)")

    serve = commands.add_parser(
        "serve",
        help="run a standalone replica node (a relay, an always-on peer)",
        description="Run a replica that listens for peers, dials the given ones, and holds and "
        "relays every object that reaches it, until SIGINT or SIGTERM. Give --id, --db, or both.",
    )
    serve.set_defaults(command_parser=serve)  # its errors show its own usage
    serve.add_argument("--id", help="this replica's id (unique per node; stored in --db)")
    serve.add_argument("--db", help="SQLite database to keep the replica in (created if absent)")
    serve.add_argument(
        "--durability",
        choices=["process", "power"],
        default="process",
        help="with --db: survive the process being killed (default) or also power loss",
    )
    serve.add_argument(
        "--listen", default="127.0.0.1:7700", help="host:port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--peer", action="append", default=[], help="a peer to dial, ws://host:port (repeat)"
    )
    serve.add_argument("--secret-file", help="file holding the secret every peer must share")
    serve.add_argument(
        "--metrics-port",
        type=port,
        help="serve Prometheus /metrics on this port (needs pip install 'crdtstate[metrics]')",
    )
    serve.add_argument("--tls-cert", help="PEM certificate chain: listen with wss://")
    serve.add_argument("--tls-key", help="PEM private key for --tls-cert")
    serve.add_argument("--tls-ca", help="PEM CA bundle trusted when dialing wss:// peers")
    serve.add_argument(
        "--yjs-token-file", help="serve Yjs (y-websocket) clients, who must send this token"
    )
    serve.add_argument("--yjs-prefix", default="/yjs/", help="path prefix of Yjs rooms")

    inspect = commands.add_parser(
        "inspect",
        help="describe a replica database (read-only)",
        description="Print a replica database's id, counters, journal and snapshot sizes, and "
        "every object's kind, value and version vector. It only reads; a running node's "
        "database is fine.",
    )
    inspect.add_argument("path", help="the database file")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = serve_config(args.command_parser, args) if args.command == "serve" else None
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    import anyio

    if args.command == "demo":
        return anyio.run(run_demo, args.updates, backend=args.backend)
    if args.command == "inspect":
        return run_inspect(args.path, as_json=args.json)
    from transport.node import run_node

    assert config is not None
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    return anyio.run(run_node, config, backend=args.backend)


def serve_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> NodeConfig:
    """The node's configuration, every part checked; `parser.error` (exit 2) on the first
    problem, before anything listens."""
    from transport.addresses import parse_listen, peer_url
    from transport.node import NodeConfig, client_context, server_context

    from .errors import InvalidArgumentError
    from .replica_ids import check_replica_id

    if args.id is None and args.db is None:
        parser.error("serve needs --id, --db, or both")
    try:
        if args.id is not None:
            check_replica_id(args.id)
        parse_listen(args.listen)
        for peer in args.peer:
            peer_url(peer)
    except InvalidArgumentError as exc:
        parser.error(str(exc))
    if args.metrics_port is not None:
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            parser.error("--metrics-port needs prometheus-client: pip install 'crdtstate[metrics]'")
    if args.tls_key and not args.tls_cert:
        parser.error("--tls-key needs --tls-cert")
    config = NodeConfig(
        replica_id=args.id,
        listen=args.listen,
        peers=args.peer,
        secret=_read_secret(parser, "--secret-file", args.secret_file),
        metrics_port=args.metrics_port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_ca=args.tls_ca,
        db=args.db,
        durability=args.durability,
        yjs_token=_read_secret(parser, "--yjs-token-file", args.yjs_token_file, text=True),
        yjs_prefix=args.yjs_prefix,
    )
    for option, path in (
        ("--tls-cert", args.tls_cert),
        ("--tls-key", args.tls_key),
        ("--tls-ca", args.tls_ca),
    ):
        _check_readable(parser, option, path)
    try:  # load the certificates now: a bad file is an error line, not a traceback later
        server_context(config)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        parser.error(f"--tls-cert/--tls-key: cannot load them: {exc}")
    try:
        client_context(config)
    except (OSError, ValueError) as exc:
        parser.error(f"--tls-ca {args.tls_ca}: cannot load it: {exc}")
    return config


def _check_readable(parser: argparse.ArgumentParser, option: str, path: str | None) -> None:
    if path is None:
        return
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        parser.error(f"{option} {path}: {exc.strerror or exc}")


def _read_secret(
    parser: argparse.ArgumentParser, option: str, path: str | None, *, text: bool = False
) -> bytes | str | None:
    """The stripped contents of `path` (None without it); `parser.error` if unreadable or empty."""
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            secret = f.read().strip()
    except OSError as exc:
        parser.error(f"{option} {path}: {exc.strerror or exc}")
    if not secret:
        parser.error(f"{option} {path} is empty")
    if not text:
        return secret
    try:
        return secret.decode()
    except UnicodeDecodeError:
        parser.error(f"{option} {path} is not UTF-8 text")


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
    import anyio

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
            for mesh in (mesh_a, mesh_b, mesh_c):
                await mesh.wait_for_peers(2, timeout=10)
            print("  mesh connected: every replica has a session with the other two\n")

            async def work(replica: Replica) -> None:
                hits = replica.container("requests", PNCounter)
                tools = replica.container("tools", AWSet)
                for i in range(updates):
                    await hits.update(lambda n: n.increment())
                    await tools.update(lambda s, i=i: s.add(f"{replica.id}-tool-{i % 3}"))
                await tools.update(lambda s: s.discard(f"{replica.id}-tool-0"))

            started = anyio.current_time()
            async with anyio.create_task_group() as nursery:
                for replica in replicas:
                    nursery.start_soon(work, replica)
            await _print_values(replicas, "right after the updates (sync in flight)")
            with anyio.fail_after(10):
                while len({r.digest() for r in replicas}) > 1:
                    await anyio.sleep(0.005)
            elapsed = (anyio.current_time() - started) * 1000
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
