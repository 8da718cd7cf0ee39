"""Prometheus metrics for a mesh (optional: needs the `metrics` extra, prometheus-client).

A task copies `mesh.stats()` into gauges once per `interval`, so the exporter's HTTP
thread only ever reads finished numbers and never touches the mesh itself.
"""

from __future__ import annotations

import logging

import anyio
import anyio.abc

from crdtstate.errors import ListenError

from .mesh import Mesh

log = logging.getLogger(__name__)


async def export_metrics(
    mesh: Mesh,
    port: int,
    *,
    host: str = "127.0.0.1",
    interval: float = 1.0,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve /metrics on `host:port` (0 picks a port, reported through `task_status`)."""
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    registry = CollectorRegistry()
    labels = ["replica", "peer"]
    peer_gauges = {
        "connected": Gauge(
            "crdtstate_peer_connected", "1 while a session is open", labels, registry=registry
        ),
        "acknowledged": Gauge(
            "crdtstate_peer_acknowledged_sequence",
            "Highest of our sequences the peer acknowledged",
            labels,
            registry=registry,
        ),
        "bytes_in": Gauge(
            "crdtstate_peer_bytes_in", "Bytes received from the peer", labels, registry=registry
        ),
        "bytes_out": Gauge(
            "crdtstate_peer_bytes_out", "Bytes sent to the peer", labels, registry=registry
        ),
        "frames_in": Gauge(
            "crdtstate_peer_messages_in",
            "Messages received from the peer",
            labels,
            registry=registry,
        ),
        "frames_out": Gauge(
            "crdtstate_peer_messages_out", "Messages sent to the peer", labels, registry=registry
        ),
        "resyncs": Gauge(
            "crdtstate_peer_resyncs",
            "Digest resynchronisations with the peer",
            labels,
            registry=registry,
        ),
    }
    sequence = Gauge(
        "crdtstate_sequence", "Our newest delta-group sequence", ["replica"], registry=registry
    )
    buffered = Gauge(
        "crdtstate_buffered_groups", "Delta-groups held for peers", ["replica"], registry=registry
    )
    connections = Gauge(
        "crdtstate_connections", "Open websocket connections", ["replica"], registry=registry
    )

    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ListenError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
    bound = server.server_address[1]
    log.info("metrics on http://%s:%d/metrics", host, bound)
    task_status.started(bound)
    replica = mesh.replica.id
    try:
        while True:
            for status in mesh.stats():
                for field, gauge in peer_gauges.items():
                    value = getattr(status, field)
                    gauge.labels(replica, status.peer).set(float(value))
            sequence.labels(replica).set(mesh.replica.buffer.sequence)
            buffered.labels(replica).set(len(mesh.replica.buffer))
            connections.labels(replica).set(mesh.connections)
            await anyio.sleep(interval)
    finally:
        server.shutdown()
