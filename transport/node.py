"""A standalone replica node (`crdtstate serve`): listen, dial peers, stop on SIGINT/SIGTERM.

Useful as an always-on peer for desktop agents, and as the relay between replicas that never
meet: it holds, relays and (with a database) keeps every object that reaches it.
"""

from __future__ import annotations

import logging
import signal
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import trio

from crdtstate.replica import Replica

from .mesh import open_mesh

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    replica_id: str
    listen: str = "127.0.0.1:7700"
    peers: list[str] = field(default_factory=list)
    secret: bytes | None = None
    metrics_port: int | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    yjs_token: str | None = None  # serve Yjs clients (y-websocket) when set
    yjs_prefix: str = "/yjs/"


def server_context(config: NodeConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


def client_context(config: NodeConfig) -> ssl.SSLContext | None:
    if config.tls_ca is None:
        return None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=config.tls_ca)


async def run_node(config: NodeConfig) -> int:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with Replica.open(config.replica_id) as replica:
            await _serve(config, replica, signals)
    return 0


async def _serve(config: NodeConfig, replica: Replica, signals: AsyncIterator[int]) -> None:
    routes = {}
    if config.yjs_token:
        from .yjs import YjsRooms

        routes = YjsRooms(replica, token=config.yjs_token, prefix=config.yjs_prefix).routes()
    async with (
        open_mesh(
            replica,
            listen=config.listen,
            peers=config.peers,
            secret=config.secret,
            ssl_context=server_context(config),
            client_ssl_context=client_context(config),
            routes=routes,
        ) as mesh,
        trio.open_nursery() as nursery,
    ):
        if config.metrics_port is not None:
            from .metrics import export_metrics

            await nursery.start(export_metrics, mesh, config.metrics_port)
        peers = config.peers or "none"
        log.info("replica %s serving on %s, peers: %s", replica.id, mesh.url, peers)
        if routes:
            log.info("Yjs clients: %s%s<document>?token=...", mesh.url, config.yjs_prefix)
        async for signum in signals:
            log.info("received %s: closing sessions and exiting", signal.Signals(signum).name)
            nursery.cancel_scope.cancel()
            break
