"""The delta buffer anti-entropy ships from: sequence number -> (delta-group, origin).

Every group a replica stores, made locally or received, gets the next sequence number. A peer
that has acknowledged sequence `a` is served the join of the groups after `a`, minus those it
is known to hold: the ones it sent us (BP, Enes et al.), and those its session learned it holds
from content (`antientropy.backprop`). Groups every peer has acknowledged are dropped, and so
are the oldest groups once the buffer holds more than `max_bytes`: memory stays bounded, and a
peer whose acknowledgement falls below what is kept is served by digest exchange instead.

Memory, not only bytes: a small delta costs far more as Python objects than encoded (a map put
of ~80 bytes on the wire holds a map, a store, a context and a register: kilobytes), so with no
peer acknowledging, the groups, not their bytes, are what fills memory. Past `max_groups` the
oldest half is folded into one group, their join (overwrites of the same keys collapse), and
the byte bound then drops the fold first: peers behind it resynchronise by digests.

The sequence counter lives here, not in the replica, so that a durable replica can start the
buffer at its stored counter (`DeltaBuffer(start=...)`) and never reuse a number.

Measuring a group means encoding it, which costs as much as a small update itself, and most
groups are acknowledged by every peer and dropped soon after. So a local group (`deferred`:
it is as large as the update that made it) is measured later, in a batch, once
`MEASURE_EVERY` are unmeasured or when `bytes` is read: one dropped before that is never
encoded here, and the buffer exceeds `max_bytes` by at most that many local groups in
between. A received group, which may hold a whole state, is measured at once, alone:
measuring the local groups pending beside it, as every received frame did, encoded nearly
every local group in a busy mesh.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Container

from .gcpause import gc_paused
from .joins import FoldLedger, SegmentJoins, deltas_by_name, encoded_size, fold_into
from .types import Crdt
from .types.putdelta import is_unbuilt

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_GROUPS = 1024
MIXED_ORIGIN = ""  # a fold of groups from several origins (no replica id is empty)


# unmeasured groups that make the buffer measure them and apply its bound: as many as
# `DEFAULT_MAX_GROUPS`, so a buffer that folds does so before it measures, and the groups it
# folds are measured as their join, once (`_fold`), not one by one
MEASURE_EVERY = DEFAULT_MAX_GROUPS


class DeltaGroup:
    """A numbered group: `deltas` per object, from `origin`; `size`: its encoded bytes, for
    the byte bound (None until measured); `first`: a fold holds the groups first..sequence
    (0: just `sequence`).

    A local update's group touches one object, and most are dropped soon after, acknowledged:
    it keeps that object's name and delta, and `deltas` hands out a fresh one-entry dict
    when read (never to be mutated, as any group's), so the update allocates no dict."""

    __slots__ = ("_delta", "_deltas", "_name", "first", "origin", "sequence", "size")

    def __init__(
        self,
        sequence: int,
        origin: str,
        deltas: dict[str, Crdt],
        size: int | None,
        first: int = 0,
    ) -> None:
        self.sequence = sequence
        self.origin = origin
        self._deltas: dict[str, Crdt] | None = deltas
        self.size = size
        self.first = first
        self._name: str | None = None
        self._delta: Crdt | None = None

    @property
    def deltas(self) -> dict[str, Crdt]:
        deltas = self._deltas
        if deltas is None:
            return {self._name: self._delta}  # type: ignore[dict-item]
        return deltas

    @property
    def folded(self) -> bool:
        return 0 < self.first < self.sequence

    def __repr__(self) -> str:
        return f"DeltaGroup({self.sequence}, {self.origin!r}, {sorted(self.deltas)})"


class FoldGroup(DeltaGroup):
    """A fold (`DeltaBuffer._fold`). Its maps may lack the dots and the writes of the puts
    it absorbed since it was last read (kept in its `ledger`): `deltas` puts them in first,
    in one pass per object, so a fold read once in a while pays for them once."""

    __slots__ = ("ledger",)

    def __init__(
        self,
        sequence: int,
        origin: str,
        deltas: dict[str, Crdt],
        size: int,
        first: int,
        ledger: FoldLedger,
    ) -> None:
        super().__init__(sequence, origin, deltas, size, first)
        self.ledger = ledger

    @property
    def deltas(self) -> dict[str, Crdt]:
        deltas = self._deltas
        assert deltas is not None
        self.ledger.settle(deltas)
        return deltas


_new_object = object.__new__


class DeltaBuffer:
    def __init__(
        self,
        start: int = 0,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_groups: int | None = DEFAULT_MAX_GROUPS,
    ) -> None:
        """`max_groups=None` never folds (the byte bound alone: the baseline of the memory
        benchmark, `simulations.bench_buffer`)."""
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        if max_groups is not None and max_groups < 2:
            raise ValueError("max_groups must be >= 2")
        self._groups: deque[DeltaGroup] = deque()
        self._sequence = start
        self._floor = start  # every group with sequence <= floor has been dropped
        self._bytes = 0  # of the measured groups
        self._unmeasured = 0  # the newest groups, not yet measured
        self.max_bytes = max_bytes
        self.max_groups = max_groups
        self.dropped_for_bound = 0  # groups dropped to stay under max_bytes (peers resync)
        self.folds = 0  # times the oldest groups were folded into one
        self._segments = SegmentJoins()

    @property
    def sequence(self) -> int:
        """The sequence number of the newest group (`start` before the first)."""
        return self._sequence

    @property
    def floor(self) -> int:
        return self._floor

    @property
    def bytes(self) -> int:
        """Encoded bytes of the groups held (never above `max_bytes` as read here): the groups
        not yet measured are measured first, and the oldest dropped beyond the bound."""
        self._apply_bound()
        return self._bytes

    def __len__(self) -> int:
        return len(self._groups)

    def append(
        self,
        origin: str,
        deltas: dict[str, Crdt],
        *,
        deferred: bool = False,
        size: int | None = None,
    ) -> int:
        """Number and keep a group; `deferred`: measure it later, in a batch (a local one);
        else it is measured now, alone, unless the caller gives its encoded `size` (a journaled
        group's blob: about the bytes a frame carries, which is all the bound needs)."""
        self._sequence += 1
        if size is None and not deferred:
            size = encoded_size(deltas)
        self._groups.append(DeltaGroup(self._sequence, origin, deltas, size))
        if size is None:
            self._unmeasured += 1
        else:
            self._bytes += size
        self._keep_bounds(deferred=deferred)
        return self._sequence

    def append_local(self, origin: str, name: str, delta: Crdt) -> int:
        """`append(origin, {name: delta}, deferred=True)`: a local update's group, of one
        object (every container update's), kept without a dict (`DeltaGroup`)."""
        sequence = self._sequence = self._sequence + 1
        group = _new_object(DeltaGroup)  # `DeltaGroup(...)` without its frame, nor a dict
        group.sequence = sequence
        group.origin = origin
        group._deltas = None
        group.size = None
        group.first = 0
        group._name = name
        group._delta = delta
        groups = self._groups
        groups.append(group)
        self._unmeasured += 1
        max_groups = self.max_groups  # `_keep_bounds`' tests inline: they rarely trip
        if (max_groups is not None and len(groups) > max_groups) or (
            self._unmeasured >= MEASURE_EVERY
        ):
            self._keep_bounds(deferred=True)
        return sequence

    def _keep_bounds(self, *, deferred: bool) -> None:
        """After an append: fold past `max_groups`; measure the unmeasured groups once
        `MEASURE_EVERY` are, and drop beyond the byte bound then (or now, for a group just
        measured, not `deferred`)."""
        max_groups = self.max_groups
        if max_groups is not None and len(self._groups) > max_groups:
            self._drop_unfoldable_head()
            if len(self._groups) > max_groups:
                # the join allocates as it goes and frees most of it before it ends: a
                # collection in between moved that garbage to the oldest generation, where it
                # counted towards (and paid for) the next full collection
                with gc_paused():
                    self._fold(max(2, len(self._groups) // 2))
        if self._unmeasured >= MEASURE_EVERY:
            self._apply_bound()
        elif not deferred:
            self._drop_beyond_bound()

    def _apply_bound(self) -> None:
        """Measure the unmeasured groups (among the newest), then drop the oldest beyond the
        bound."""
        if self._unmeasured:
            for group in reversed(self._groups):
                if group.size is None:
                    group.size = encoded_size(group.deltas)
                    self._bytes += group.size
                    self._unmeasured -= 1
                    if not self._unmeasured:
                        break
        self._drop_beyond_bound()

    def _drop_beyond_bound(self) -> None:
        while self._bytes > self.max_bytes and self._groups:
            self._drop_oldest()
            self.dropped_for_bound += 1

    def can_serve(self, after: int) -> bool:
        """True when every group after `after` is still held."""
        return after >= self._floor

    def collect(
        self, after: int, *, exclude_origin: str | None = None, held: Container[int] = ()
    ) -> dict[str, Crdt]:
        """The join, per object, of the groups after `after`, leaving out those from
        `exclude_origin` and those whose sequence is in `held` (known held by the peer).

        Each object's deltas are joined by their kind's `join`, which never mutates a buffered
        delta and never drops one: the peer will acknowledge every group collected here.

        Each peer's session pushes what this replica made, each at its own pace, so their
        collects overlap: the joins are made per segment between the ends of earlier collects
        and kept (`SegmentJoins`), so each group is joined about once, not once per peer. So
        a result, like the buffered deltas, must never be mutated.
        """
        chosen = [
            group
            for group in self._groups_after(after)
            if group.origin != exclude_origin and (group.sequence not in held or group.folded)
        ]
        return self._segments.join(chosen)

    def groups_after(self, after: int) -> list[DeltaGroup]:
        """The groups held with sequence > `after`, oldest first (never to be mutated)."""
        return self._groups_after(after)

    def _groups_after(self, after: int) -> list[DeltaGroup]:
        """Only the oldest group can be a fold; every later one holds one sequence."""
        if not self._groups or after >= self._sequence:
            return []
        head = self._groups[0]
        if head.folded and after < head.sequence:
            return list(self._groups)
        base = 1 if head.folded else 0
        skip = max(base, after - self._groups[base].sequence + 1 + base)
        return [self._groups[i] for i in range(skip, len(self._groups))]

    def _drop_unfoldable_head(self) -> None:
        """Drop the oldest groups while each is bigger than `max_bytes / max_groups`.

        Folding joins the groups into a copy, so a group as big as the state (a bulk load, a
        received full state) would make the next update cost O(state). Such a group is what
        a digest exchange ships anyway: dropping it, as the byte bound would, costs nothing
        here and a peer that still needs it catches up by digests."""
        assert self.max_groups is not None
        limit = max(1, self.max_bytes // self.max_groups)
        while self._groups and not self._groups[0].folded:
            head = self._groups[0]
            if head.size is None and all(map(is_unbuilt, head.deltas.values())):
                return  # local puts and deletes, folded in O(1) each (`absorb_puts`): unbuilt
            if head.size is None:
                self._unmeasured -= 1
                head.size = encoded_size(head.deltas)
                self._bytes += head.size
            if head.size <= limit:
                return
            self._drop_oldest()
            self.dropped_for_bound += 1

    def _fold(self, count: int) -> None:
        """Replace the `count` oldest groups by one holding their join, per object.

        A peer served from it receives some groups it already holds (joins are idempotent);
        BP still leaves it out for its origin when all its groups came from one.

        The fold's size is the previous fold's (when it is folded in again) plus the encoded
        size of the join of the other groups (an upper bound: a join is never bigger than its
        parts), or, for local puts absorbed unbuilt, `absorb_puts`' estimate, which takes an
        overwritten write's bytes off again. The groups are not
        measured one by one (under overload, when no ack comes for a while, that encoded every
        update once more: 15% of the CPU), and the previous fold, which can be as big as the
        state, is never encoded again."""
        folded = [self._groups.popleft() for _ in range(count)]
        for group in folded:
            if group.size is None:
                self._unmeasured -= 1
            else:
                self._bytes -= group.size
        before = folded[0] if folded[0].folded else None
        by_name = deltas_by_name([group.deltas for group in (folded[1:] if before else folded)])
        if before is None:
            deltas: dict[str, Crdt] = {}
            ledger = FoldLedger()
            size = 0
        else:  # the previous fold's deltas are its own: joined into in place
            assert before.size is not None and isinstance(before, FoldGroup)
            deltas = dict(before._deltas)  # type: ignore[arg-type]  # (not settled: `ledger`)
            ledger = before.ledger
            size = before.size
        size += fold_into(deltas, ledger, by_name)
        origins = {group.origin for group in folded}
        origin = origins.pop() if len(origins) == 1 else MIXED_ORIGIN
        first = folded[0].first or folded[0].sequence
        fold = FoldGroup(folded[-1].sequence, origin, deltas, size, first, ledger)
        self._groups.appendleft(fold)
        self._bytes += fold.size
        self.folds += 1

    def discard_through(self, sequence: int) -> None:
        """Drop the groups with sequence <= `sequence` (all peers have them).

        Every ack drops a run of groups: their sizes are taken off in one pass and the kept
        joins are told once, of the last (`SegmentJoins.forget` of each in turn, which this
        equals, rebuilt its table per group)."""
        groups = self._groups
        last: DeltaGroup | None = None
        freed = 0
        while groups and groups[0].sequence <= sequence:
            last = groups.popleft()
            if last.size is None:
                self._unmeasured -= 1
            else:
                freed += last.size
        if last is not None:
            self._bytes -= freed
            self._segments.forget(last)
        self._floor = max(self._floor, min(sequence, self._sequence))

    def _drop_oldest(self) -> None:
        group = self._groups.popleft()
        self._segments.forget(group)
        if group.size is None:
            self._unmeasured -= 1
        else:
            self._bytes -= group.size
        self._floor = max(self._floor, group.sequence)
