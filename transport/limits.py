"""Limits and timeouts of a mesh, with defaults safe for a LAN of MCP server replicas."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep a slow, stalled or hostile peer from hurting the replica.

    - `max_frame_bytes`: larger frames close the connection (1009) before they are buffered.
    - `max_pending_bytes`: the most bytes queued for one peer at a time. The session pushes
      only after its previous frames are written, acks coalesce, and pushes are split into
      frames no larger than this, so a slow peer costs at most this much (plus the kernel's
      socket buffer); deltas made meanwhile wait, joined, in the replica's delta buffer.
    - `send_timeout`: a frame that cannot be written this long means a stalled peer: dropped.
    - `handshake_timeout`: a connection must finish hello (and auth) this fast.
    - `max_peers`: connections beyond this are refused with 1013 (try again later).
    - `keepalive_interval` / `keepalive_timeout`: websocket pings that detect dead peers.
    - `ack_delay`: an ack waits this long to ride on a delta instead of taking a frame.
    - `max_pushes_in_flight`: a push waits while this many are unacknowledged, so under load
      the deltas made meanwhile go out joined in one larger frame (None: push eagerly).
    """

    max_frame_bytes: int = 16 * 1024 * 1024
    max_pending_bytes: int = 32 * 1024 * 1024
    send_timeout: float = 30.0
    handshake_timeout: float = 10.0
    max_peers: int = 64
    keepalive_interval: float | None = 20.0
    keepalive_timeout: float | None = 20.0
    retransmit_after: float = 5.0
    ack_delay: float = 0.005
    max_pushes_in_flight: int | None = 1


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter between reconnect attempts."""

    initial: float = 0.05
    maximum: float = 5.0
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.maximum, self.initial * self.factor**attempt)
        return (rng or random).uniform(ceiling / 2, ceiling)
