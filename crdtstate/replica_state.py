"""The synchronous core of a replica: its named CRDT objects and the delta buffer they feed.

`Replica` wraps this with anyio (containers, subscribers, waiting for growth, the journal of a
durable replica); the simulator drives it directly with no event loop. Everything that decides
*what* state a replica holds and *what* anti-entropy ships (the RR step, the one sequence
counter, digests, `deltas_since`) lives here, once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from . import codec
from .buffer import DeltaBuffer, DeltaGroup
from .errors import DecodeError, ProtocolError
from .replica_ids import check_replica_id
from .resume_points import ResumePoints
from .types import Crdt
from .types.putdelta import plain_class


@dataclass(frozen=True, slots=True)
class RemoteGroup:
    """The novel part of a received group (RR): `parts` to join into the objects, `group` to
    buffer (the same, except for the no-RR baseline, which relays what it received)."""

    parts: dict[str, Crdt]
    group: dict[str, Crdt]


class ReplicaState:
    """Named objects, numbered delta-groups, and the RR join of remote deltas.

    `relay_redundant=True` turns the RR step off (a received group is buffered whole whenever
    it changes anything): classic delta shipping, kept only as a benchmark baseline.
    """

    def __init__(
        self,
        replica_id: str,
        *,
        buffer: DeltaBuffer | None = None,
        incarnation: int | None = None,
        relay_redundant: bool = False,
    ) -> None:
        self.id = check_replica_id(replica_id)
        self.incarnation = secrets.randbits(63) if incarnation is None else incarnation
        self.buffer = buffer if buffer is not None else DeltaBuffer()
        self.objects: dict[str, Crdt] = {}
        self.relay_redundant = relay_redundant
        # What this run remembers of its peers' runs, so reconnects resume (in memory only:
        # a restarted replica remembers no peer, and they resync with it by digests).
        self.resume_points = ResumePoints()

    # -- local updates ----------------------------------------------------------------------

    def object(self, name: str, kind: type[Crdt]) -> Crdt:
        """The live state of `name` (created empty); the caller must not mutate it in place
        except through `commit_local`."""
        obj = self.objects.get(name)
        if obj is None:
            obj = self.objects[name] = kind()
        return obj

    @property
    def sequence(self) -> int:
        """The sequence number of the newest delta-group: the replica's one counter."""
        return self.buffer.sequence

    def commit_local(self, name: str, new_state: Crdt, delta: Crdt) -> int:
        """Install `new_state` (the old state joined with `delta`) and buffer the delta."""
        self.objects[name] = new_state
        return self.buffer.append(self.id, {name: delta})

    def commit_group(self, deltas: dict[str, Crdt], *, size: int | None = None) -> int:
        """Buffer the deltas of one update touching several objects (already applied to the
        live objects) as one delta-group: of `size` encoded bytes when the caller knows (a
        journaled group), else measured later (see `DeltaBuffer`)."""
        return self.buffer.append(self.id, deltas, deferred=size is None, size=size)

    # -- remote deltas ----------------------------------------------------------------------

    def check_kinds(self, deltas: dict[str, Crdt]) -> dict[str, Crdt]:
        """The deltas as the local objects' declared classes, or `ProtocolError` if any delta's
        kind differs from its local object's (or does not fit its declaration)."""
        checked = dict(deltas)
        for name, delta in deltas.items():
            local = self.objects.get(name)
            if local is None or type(local) is plain_class(type(delta)):
                continue  # (a local map put's lazy delta, handed over in memory, fits too)
            if local.kind != delta.kind:
                raise ProtocolError(
                    f"kind conflict: object {name!r} is a {local.kind} here, peer sent {delta.kind}"
                )
            try:
                checked[name] = type(local).conform(delta)
            except DecodeError as exc:
                raise ProtocolError(f"object {name!r} does not fit its declaration: {exc}") from exc
        return checked

    def join_remote(
        self, deltas: dict[str, Crdt], origin: str, *, watched: Container[str] = ()
    ) -> tuple[int | None, dict[str, Any]]:
        """Join deltas from peer `origin`, keeping and buffering only their novel part (RR).

        All kinds are checked before anything is joined, so a bad group changes nothing.
        Returns the sequence given to the buffered group (None if nothing was new) and, for
        each changed object named in `watched`, its value before the join.
        """
        remote = self.novel_part(deltas)
        if remote is None:
            return None, {}
        return self.install_remote(remote, origin, watched=watched)

    def novel_part(self, deltas: dict[str, Crdt]) -> RemoteGroup | None:
        """What of `deltas` this replica lacks (the RR step), or None when it lacks nothing;
        nothing is joined yet (a durable replica journals it first). `ProtocolError` on a
        kind conflict, before anything changes. Objects new here are created empty."""
        deltas = self.check_kinds(deltas)
        parts: dict[str, Crdt] = {}
        for name, delta in deltas.items():
            local = self.objects.get(name)
            if local is None:
                local = self.objects[name] = plain_class(type(delta))()
            part = local.novel(delta)
            if part is not None:
                parts[name] = part
        if not parts:
            return None
        if self.relay_redundant:
            return RemoteGroup(parts, dict(deltas))
        return RemoteGroup(parts, parts)

    def install_remote(
        self, remote: RemoteGroup, origin: str, *, watched: Container[str] = ()
    ) -> tuple[int, dict[str, Any]]:
        """Join a novel part into the objects and buffer it as the next group from `origin`.

        Returns its sequence and, for each object in `watched` the join changed, its value
        before (a merge that changes nothing is announced to nobody).
        """
        previous: dict[str, Any] = {}
        for name, part in remote.parts.items():
            local = self.objects[name]
            before = local.value if name in watched else None
            if local.merge(part) and name in watched:
                previous[name] = before
        return self.buffer.append(origin, remote.group), previous

    # -- what anti-entropy reads (`antientropy.SyncSource`) -----------------------------------

    def can_serve(self, after: int) -> bool:
        return self.buffer.can_serve(after)

    def collect(
        self, after: int, *, exclude_origin: str | None = None, held: Container[int] = ()
    ) -> dict[str, Crdt]:
        return self.buffer.collect(after, exclude_origin=exclude_origin, held=held)

    def groups_after(self, after: int) -> list[DeltaGroup]:
        return self.buffer.groups_after(after)

    def local_class(self, name: str) -> type[Crdt] | None:
        obj = self.objects.get(name)
        return None if obj is None else type(obj)

    def object_digests(self) -> dict[str, tuple[str, Any]]:
        """Per object: (kind, digest), for a digest exchange."""
        return {name: (obj.kind, obj.digest()) for name, obj in self.objects.items()}

    def deltas_since(self, digests: dict[str, tuple[str, Any]]) -> dict[str, Crdt]:
        """What a peer with these per-object digests lacks, object by object."""
        missing: dict[str, Crdt] = {}
        for name, obj in self.objects.items():
            theirs = digests.get(name)
            if theirs is None or theirs[0] != obj.kind:
                part = obj.copy()
            else:
                part = obj.delta_since(theirs[1])
            if not part.is_bottom():
                missing[name] = part
        return missing

    def digest(self) -> str:
        """A fingerprint of the whole state: equal on two replicas exactly when states are.

        Empty objects are left out: an object nobody wrote equals one that does not exist.
        """
        h = hashlib.sha256()
        for name in sorted(self.objects):
            obj = self.objects[name]
            if obj.is_bottom():
                continue
            h.update(codec.pack([name, obj.fingerprint()]))
        return h.hexdigest()


def check_sequence(appended: int, journaled: int | None) -> None:
    """The journal numbers a group from the core's counter before committing it, and the core
    buffers it right after: the numbers must agree (one counter, checked, never two)."""
    if journaled is not None and appended != journaled:
        raise AssertionError(f"buffered as {appended}, journaled as {journaled}")
