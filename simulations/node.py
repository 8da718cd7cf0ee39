"""A simulated replica: a `ReplicaState` plus what a crash takes away.

What is volatile. DESIGN §3 makes every local delta durable before `update` returns, and a
received delta durable before it is acknowledged, so the objects and the sequence counter
survive a crash: they are the disk. Everything else is process memory and is lost: the delta
buffer, the sessions (acknowledgements, what was sent, what is in flight) and the incarnation.
A restart therefore comes back with the same id, its objects, a buffer starting at the stored
counter (no sequence number is reused) and fresh sessions, so every peer resyncs by digests.

An in-memory `Replica` has no disk: for it "volatile" means everything, and a restart must
come back under a new replica id (reusing the id would reuse dots). The trio layer models
that case; see `simulations.trio_network`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from antientropy import PeerSession
from crdtstate.buffer import DEFAULT_MAX_GROUPS, DeltaBuffer
from crdtstate.own_writes import check_own_writes
from crdtstate.replica_state import ReplicaState
from crdtstate.types import Crdt


@dataclass(slots=True)
class SimReplica:
    id: str
    state: ReplicaState
    up: bool = True
    sessions: dict[str, PeerSession] = field(default_factory=dict)  # by peer id
    restarts: int = 0
    last_change: float = 0.0  # simulated time its state last grew
    max_buffer_bytes: int = 0

    @classmethod
    def fresh(
        cls,
        replica_id: str,
        rng: random.Random,
        *,
        max_bytes: int,
        relay_redundant: bool,
        max_groups: int | None = DEFAULT_MAX_GROUPS,
    ) -> SimReplica:
        state = ReplicaState(
            replica_id,
            buffer=DeltaBuffer(max_bytes=max_bytes, max_groups=max_groups),
            incarnation=rng.getrandbits(63),
            relay_redundant=relay_redundant,
        )
        return cls(replica_id, state)

    def crash(self) -> None:
        """Lose the volatile state: sessions now, the buffer when it restarts."""
        self.up = False
        self.sessions.clear()

    def restart(self, rng: random.Random) -> None:
        """Come back from the disk: same id and objects, empty buffer at the stored counter."""
        old = self.state
        disk: dict[str, Crdt] = {name: obj.copy() for name, obj in old.objects.items()}
        self.state = ReplicaState(
            self.id,
            buffer=DeltaBuffer(
                start=old.buffer.sequence,
                max_bytes=old.buffer.max_bytes,
                max_groups=old.buffer.max_groups,
            ),
            incarnation=rng.getrandbits(63),
            relay_redundant=old.relay_redundant,
        )
        self.state.objects.update(disk)
        self.up = True
        self.restarts += 1

    def join_remote(self, deltas: dict[str, Crdt], origin: str) -> int | None:
        """Join a received group, refusing it as `Replica.apply_remote` does when it holds
        more of this replica's own writes than it does (it writes under its id, as a durable
        replica: a crash and restart must never trip that check)."""
        check_own_writes(self.state.objects, deltas, self.id, self.id)
        return self.state.join_remote(deltas, origin)[0]

    def note_growth(self, now: float) -> None:
        self.last_change = now
        self.max_buffer_bytes = max(self.max_buffer_bytes, self.state.buffer.bytes)
