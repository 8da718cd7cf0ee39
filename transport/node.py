"""A standalone replica node (`crdtstate serve`): listen, dial peers, stop on SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal

import trio

from crdtstate.errors import StorageError
from crdtstate.replica import Replica

from .mesh import open_mesh

log = logging.getLogger(__name__)


async def run_node(
    replica_id: str | None,
    listen: str,
    peers: list[str],
    secret: bytes | None,
    db: str | None = None,
    durability: str = "process",
) -> int:
    """Serve until SIGINT/SIGTERM; with `db`, the replica lives in that database."""
    try:
        async with Replica.open(replica_id, db, durability=durability) as replica:
            await _serve(replica, listen, peers, secret)
    except StorageError as exc:
        log.error("replica database %s: %s", db, exc)
        return 1
    return 0


async def _serve(replica: Replica, listen: str, peers: list[str], secret: bytes | None) -> None:
    async with open_mesh(replica, listen=listen, peers=peers, secret=secret) as mesh:
        where = f" (database {replica.path})" if replica.path else ""
        log.info("replica %s serving on %s, peers %s%s", replica.id, mesh.url, peers or "-", where)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info("received %s: shutting down", signal.Signals(signum).name)
                break
