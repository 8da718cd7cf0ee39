"""A standalone replica node (`crdtstate serve`): listen, dial peers, stop on SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal

import trio

from crdtstate.replica import Replica

from .mesh import open_mesh

log = logging.getLogger(__name__)


async def run_node(replica_id: str, listen: str, peers: list[str], secret: bytes | None) -> int:
    async with (
        Replica.open(replica_id) as replica,
        open_mesh(replica, listen=listen, peers=peers, secret=secret) as mesh,
    ):
        log.info("replica %s serving on %s, peers %s", replica_id, mesh.url, peers or "none")
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info("received %s: shutting down", signal.Signals(signum).name)
                break
    return 0
