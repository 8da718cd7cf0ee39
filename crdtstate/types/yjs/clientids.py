"""Yjs client ids for a replica's documents: 32-bit, derived, never reused across restarts.

A Yjs client id names the author of every struct; two writers sharing one (or one writer
reusing one after forgetting its clock) corrupts documents. The rule:

    client id = first 4 bytes of BLAKE2b("crdtstate-yjs-client" | replica id | epoch | attempt)

`epoch` is a number the replica never hands out twice. An in-memory replica uses its random
63-bit incarnation; a durable replica must store a counter, bump it and commit it *before* its
first document update of each run, and pass it here (`ClientIdAllocator(replica_id, epoch)`):
this module depends on no storage. `attempt` moves past ids a document already holds (a 32-bit
collision, or another replica's id) and past 0, so a derived id never joins a document that
has seen it. Updates stay small: Yjs writes client ids as varuints, and 32 bits is what Yjs
itself uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field

from ...errors import CrdtStateError

MAX_ATTEMPTS = 64


@dataclass(slots=True)
class ClientIdAllocator:
    replica_id: str
    epoch: int
    _issued: dict[int, int] = field(default_factory=dict, repr=False)  # attempt -> id

    def derive(self, attempt: int) -> int:
        cached = self._issued.get(attempt)
        if cached is None:
            material = f"crdtstate-yjs-client\0{self.replica_id}\0{self.epoch}\0{attempt}"
            cached = int.from_bytes(hashlib.blake2b(material.encode(), digest_size=4).digest())
            self._issued[attempt] = cached
        return cached

    def client_id(self, avoid: Collection[int] = ()) -> int:
        """This run's id for a document whose state vector names the clients in `avoid`."""
        for attempt in range(MAX_ATTEMPTS):
            candidate = self.derive(attempt)
            if candidate and candidate not in avoid:
                return candidate
        raise CrdtStateError("no free 32-bit client id after 64 attempts")
