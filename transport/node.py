"""A standalone replica node (`crdtstate serve`): listen, dial peers, stop on SIGINT/SIGTERM.

Useful as an always-on peer for desktop agents, and as the relay between replicas that never
meet: it holds, relays and (with a database) keeps every object that reaches it.
"""

from __future__ import annotations

import logging
import signal
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from crdtstate.errors import ListenError, StorageError
from crdtstate.replica import Replica

from .mesh import open_mesh

if TYPE_CHECKING:
    from .yjs import YjsRooms

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    replica_id: str | None
    listen: str = "127.0.0.1:7700"
    peers: list[str] = field(default_factory=list)
    secret: bytes | None = None
    metrics_port: int | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    db: str | None = None
    durability: str = "process"
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
    """Serve until SIGINT/SIGTERM; with `config.db`, the replica lives in that database.

    A database that cannot be opened or an address that cannot be listened on is one error
    line and exit status 1 (they may arrive wrapped in the replica's nursery's group).
    """
    failed = False
    try:
        async with Replica.open(
            config.replica_id, config.db, durability=config.durability
        ) as replica:
            await _serve(replica, config)
    except* StorageError as group:
        log.error("replica database %s: %s", config.db, _first(group))
        failed = True
    except* ListenError as group:
        log.error("%s", _first(group))
        failed = True
    return 1 if failed else 0


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of a (possibly nested) exception group."""
    leaf: BaseException = group
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf


async def _serve(replica: Replica, config: NodeConfig) -> None:
    rooms = yjs_rooms(replica, config)
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with (
            open_mesh(
                replica,
                listen=config.listen,
                peers=config.peers,
                secret=config.secret,
                ssl_context=server_context(config),
                client_ssl_context=client_context(config),
                routes=rooms.routes() if rooms else None,
            ) as mesh,
            anyio.create_task_group() as nursery,
        ):
            if config.metrics_port is not None:
                from .metrics import export_metrics

                await nursery.start(export_metrics, mesh, config.metrics_port)
            where = f" (database {replica.path})" if replica.path else ""
            log.info(
                "replica %s serving on %s, peers %s%s",
                replica.id,
                mesh.url,
                config.peers or "-",
                where,
            )
            if config.yjs_token:
                log.info("Yjs clients: %s%s<document>?token=...", mesh.url, config.yjs_prefix)
            async for signum in signals:
                log.info("received %s: closing sessions and exiting", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break


def yjs_rooms(replica: Replica, config: NodeConfig) -> YjsRooms | None:
    """Yjs rooms under `yjs_prefix` when a token is configured (their awareness is shared
    with the mesh)."""
    if not config.yjs_token:
        return None
    from .yjs import YjsRooms

    return YjsRooms(replica, token=config.yjs_token, prefix=config.yjs_prefix)
