"""Is this replica behind its own writes? The check run on every received delta-group.

A replica numbers its writes under one writer name: a causal object's dots `(writer, n)`, a
counter's entry for the writer. A durable replica keeps them in its database and journals every
write before any peer can see it, so no peer can ever hold more of its writer than it does. If
one does (a received causal context reaches a higher counter of the writer, or a counter entry
of the writer is higher), the database was restored from an older copy or copied, or a second
replica runs under the same id: the next writes would reuse dots or counter values the peers
already hold with other content, and the peers would drop them as known.

The check costs one dict lookup per received object (a context's top counter, a counter's
entry), never a scan of dots. Yjs documents number their edits by Yjs client ids, not by the
writer name, and are not checked here. `OwnWrites` is a replica's guard: it runs the check
on received groups, and once one was ahead (the replica is stale) refuses local updates.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .errors import StaleReplicaError
from .types import BoundedCounter, CausalCrdt, Crdt, GCounter, PNCounter

log = logging.getLogger(__name__)

#: (what, theirs, ours): where a received delta holds more of the writer than the local state
Ahead = tuple[str, int, int]


def _causal(local: Crdt | None, delta: Crdt, writer: str) -> Ahead | None:
    theirs = delta.context.max_counter(writer)  # type: ignore[attr-defined]
    if not theirs:
        return None
    ours = local.context.max_counter(writer) if local is not None else 0  # type: ignore[attr-defined]
    return ("dot counter", theirs, ours) if theirs > ours else None


def _entries(
    what: str, theirs: Mapping[str, int], ours: Mapping[str, int] | None, writer: str
) -> Ahead | None:
    n = theirs.get(writer, 0)
    if not n:
        return None
    mine = ours.get(writer, 0) if ours is not None else 0
    return (what, n, mine) if n > mine else None


def _gcounter(local: Crdt | None, delta: Crdt, writer: str) -> Ahead | None:
    if writer not in delta.counts:  # type: ignore[attr-defined]
        return None  # (the common case: a peer's own increments)
    ours = local.counts if isinstance(local, GCounter) else None
    return _entries("counter entry", delta.counts, ours, writer)  # type: ignore[attr-defined]


def _pncounter(local: Crdt | None, delta: Crdt, writer: str) -> Ahead | None:
    assert isinstance(delta, PNCounter)
    mine = local if isinstance(local, PNCounter) else None
    return _entries(
        "increment entry", delta.p.counts, mine.p.counts if mine else None, writer
    ) or _entries("decrement entry", delta.n.counts, mine.n.counts if mine else None, writer)


def _bounded(local: Crdt | None, delta: Crdt, writer: str) -> Ahead | None:
    """Within one epoch, the writer's own entries (minted, spent, wanted, moved from it); a
    delta of a later epoch holding any of them is ahead too (the writer reached that epoch)."""
    assert isinstance(delta, BoundedCounter)
    mine = local if isinstance(local, BoundedCounter) else None
    if mine is not None and delta.epoch < mine.epoch:
        return None
    same = mine is not None and delta.epoch == mine.epoch
    for what, theirs, ours in (
        ("minted entry", delta.minted, mine.minted if same else None),  # type: ignore[union-attr]
        ("spent entry", delta.spent, mine.spent if same else None),  # type: ignore[union-attr]
        ("wanted entry", delta.wanted, mine.wanted if same else None),  # type: ignore[union-attr]
    ):
        ahead = _entries(what, theirs, ours, writer)
        if ahead is not None:
            return ahead
    for (src, dst), n in delta.moved.items():  # a delta's handful of transfers
        if src == writer:
            have = mine.moved.get((src, dst), 0) if same else 0  # type: ignore[union-attr]
            if n > have:
                return (f"transfer entry to {dst!r}", n, have)
    return None


def _unchecked(local: Crdt | None, delta: Crdt, writer: str) -> Ahead | None:
    return None


Check = Callable[[Crdt | None, Crdt, str], Ahead | None]
_CHECKS: dict[type, Check] = {}


def _check_for(cls: type) -> Check:
    """The check of a delta class (found once per class, then one dict lookup)."""
    check = _CHECKS.get(cls)
    if check is None:
        if issubclass(cls, CausalCrdt):
            check = _causal
        elif issubclass(cls, GCounter):
            check = _gcounter
        elif issubclass(cls, PNCounter):
            check = _pncounter
        elif issubclass(cls, BoundedCounter):
            check = _bounded
        else:
            check = _unchecked
        _CHECKS[cls] = check
    return check


def writes_ahead(local: Crdt | None, delta: Crdt, writer: str) -> Ahead | None:
    """Where `delta` holds more of `writer`'s writes than `local` (None: no such object here):
    (what, theirs, ours), or None. Objects of different kinds are left to the kind check."""
    if local is not None and local.kind != delta.kind:
        return None
    return _check_for(type(delta))(local, delta, writer)


def check_own_writes(
    objects: Mapping[str, Crdt], deltas: Mapping[str, Crdt], writer: str, replica_id: str
) -> None:
    """Raise `StaleReplicaError` if any of `deltas` holds more of `writer` than `objects` do."""
    for name, delta in deltas.items():
        cls = type(delta)
        check = _CHECKS.get(cls) or _check_for(cls)  # (`writes_ahead`, inline: per object)
        local = objects.get(name)
        if local is not None and local.kind != delta.kind:
            continue  # a kind conflict: refused by the kind check
        ahead = check(local, delta, writer)
        if ahead is not None:
            what, theirs, ours = ahead
            raise StaleReplicaError(
                f"replica {replica_id!r} is behind its own writes: a peer holds {what} "
                f"{theirs} of writer {writer!r} for object {name!r}, this replica only {ours} "
                "(its database was restored from an older copy or copied, or another replica "
                "runs under the same id); refused, and local updates are refused from now on: "
                "reopen the database under a new id",
                name=name,
                writer=writer,
                theirs=theirs,
                ours=ours,
            )


#: what a stored stale mark holds besides its reason: `StaleReplicaError`'s fields
STALE_FIELDS = ("name", "writer", "theirs", "ours")


class OwnWrites:
    """A replica's guard over its writer's numbering: checks each received group, and once
    one was ahead (the replica is `stale`), refuses local updates. A durable replica stores
    the mark (`persist`) before the check raises, and reloads it on open (`reload`): a restart
    must not make the replica write again under its old name."""

    __slots__ = ("persist", "replica_id", "stale", "writer")

    def __init__(self, replica_id: str, writer: str) -> None:
        self.replica_id = replica_id
        self.writer = writer
        self.stale: StaleReplicaError | None = None
        self.persist: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    def reload(self, record: Mapping[str, Any] | None) -> None:
        """The stale mark a durable replica stored (`record`), if any, as `stale` again."""
        if record is not None:
            self.stale = StaleReplicaError(
                record["reason"], **{field: record[field] for field in STALE_FIELDS}
            )
            log.error(
                "replica %r was found stale before this restart (%s); local updates are refused"
                " until its database is reopened under a new id (README: Restoring a backup)",
                self.replica_id,
                record["reason"],
            )

    async def check(
        self, objects: Mapping[str, Crdt], deltas: Mapping[str, Crdt], origin: str
    ) -> None:
        """`check_received`, storing the mark first when this group makes the replica stale."""
        was = self.stale
        try:
            self.check_received(objects, deltas, origin)
        except StaleReplicaError as exc:
            if was is None and self.persist is not None:
                record = {"reason": exc.reason}
                record.update((field, getattr(exc, field)) for field in STALE_FIELDS)
                await self.persist(record)
            raise

    def check_received(
        self, objects: Mapping[str, Crdt], deltas: Mapping[str, Crdt], origin: str
    ) -> None:
        """`StaleReplicaError` (and the replica stale) if `deltas` hold more of our writes."""
        try:
            check_own_writes(objects, deltas, self.writer, self.replica_id)
        except StaleReplicaError as exc:
            if self.stale is None:
                log.error(
                    "%s (deltas from %s). Writes already made stay in the state and the "
                    "database; nothing more is written under %r. To recover, close the replica "
                    "and reopen its database under a new replica id: Replica.open(NEW_ID, path, "
                    "adopt_as_new_id=True) (README: Restoring a backup)",
                    exc.reason,
                    origin,
                    self.writer,
                )
            self.stale = exc
            raise

    def refuse_write(self) -> None:
        """Raise `StaleReplicaError` for a local update on a stale replica."""
        stale = self.stale
        assert stale is not None
        raise StaleReplicaError(
            f"replica {self.replica_id!r} is stale, local updates are refused: {stale.reason}",
            name=stale.name,
            writer=stale.writer,
            theirs=stale.theirs,
            ours=stale.ours,
        )
