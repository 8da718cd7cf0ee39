"""Logical clocks: dots, version vectors and causal contexts (DESIGN §3, Clocks).

These are pure values with no I/O. A `CausalContext` is the "what have I seen" part of every
causal CRDT: a version vector for the contiguous prefix of each replica's dots plus a cloud of
dots received out of order, compacted into the vector as gaps fill.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

from . import intervals


class Dot(NamedTuple):
    """One event: the `counter`-th event made by `replica`."""

    replica: str
    counter: int


_new_tuple = tuple.__new__


class VersionVector(Mapping[str, int]):
    """Replica id -> highest contiguous counter seen. Immutable; zero entries are omitted."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> None:
        items = entries.items() if isinstance(entries, Mapping) else entries
        self._entries: dict[str, int] = {r: n for r, n in items if n > 0}

    def __getitem__(self, replica: str) -> int:
        return self._entries[replica]

    def get(self, replica: str, default: int = 0) -> int:  # type: ignore[override]
        return self._entries.get(replica, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __hash__(self) -> int:
        return hash(frozenset(self._entries.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, VersionVector):
            return self._entries == other._entries
        return NotImplemented

    def __le__(self, other: VersionVector) -> bool:
        return all(n <= other.get(r) for r, n in self._entries.items())

    def __lt__(self, other: VersionVector) -> bool:
        return self <= other and self != other

    def __ge__(self, other: VersionVector) -> bool:
        return other <= self

    def __gt__(self, other: VersionVector) -> bool:
        return other < self

    def concurrent(self, other: VersionVector) -> bool:
        """True when neither vector has seen everything the other has."""
        return not (self <= other) and not (other <= self)

    def merge(self, other: Mapping[str, int]) -> VersionVector:
        """The pointwise maximum (the join)."""
        merged = dict(self._entries)
        for r, n in other.items():
            if n > merged.get(r, 0):
                merged[r] = n
        return VersionVector(merged)

    def increment(self, replica: str, by: int = 1) -> VersionVector:
        return VersionVector({**self._entries, replica: self.get(replica) + by})

    def to_wire(self) -> dict[str, int]:
        return dict(sorted(self._entries.items()))

    def __repr__(self) -> str:
        return f"VersionVector({self.to_wire()!r})"


class CausalContext:
    """A set of dots: per replica, a contiguous prefix (the vector) plus ranges above it.

    Invariant: a replica's ranges lie strictly above `vector[r] + 1` (a range reaching the
    prefix is absorbed into it), are sorted, disjoint and non-adjacent, and never empty; so
    equal sets have equal representations. Every operation costs O(ranges), never O(dots).
    """

    __slots__ = ("cloud", "vector")

    def __init__(self, vector: Mapping[str, int] | None = None, cloud: Iterable[Dot] = ()) -> None:
        self.vector: dict[str, int] = {r: n for r, n in vector.items() if n > 0} if vector else {}
        self.cloud: dict[str, intervals.Ranges] = {}
        for dot in cloud:
            self.add(dot)

    @classmethod
    def of(cls, dots: Iterable[Dot]) -> CausalContext:
        """The context of exactly `dots`, in any order (O(n log n)).

        One pass groups the counters by replica; a replica with one dot (most of a local
        update's delta: its own dot and the one it overwrote) is placed without sorting."""
        ctx = cls.__new__(cls)
        vector: dict[str, int] = {}
        cloud: dict[str, intervals.Ranges] = {}
        ctx.vector, ctx.cloud = vector, cloud
        counters: dict[str, list[int]] = {}
        for replica, counter in dots:
            seen = counters.get(replica)
            if seen is None:
                counters[replica] = [counter]
            else:
                seen.append(counter)
        for replica, values in counters.items():
            if len(values) == 1:
                counter = values[0]
                if counter == 1:
                    vector[replica] = 1
                else:
                    cloud[replica] = [(counter, counter)]
            elif len(values) == 2:  # a write's own dot and the one it overwrote, say
                low, high = sorted(values)
                if high - low <= 1:
                    ctx._put_ranges(replica, [(low, high)])
                else:
                    ctx._put_ranges(replica, [(low, low), (high, high)])
            else:
                ctx._put_ranges(replica, intervals.from_numbers(values))
        return ctx

    @classmethod
    def union(cls, contexts: Iterable[CausalContext]) -> CausalContext:
        """The join of `contexts` as a new context, in one pass: per replica, the prefixes'
        maximum and the ranges above it sorted and coalesced once (what `merge`ing them
        one by one into a copy gives, range by range)."""
        ctx = cls.__new__(cls)
        vector: dict[str, int] = {}
        above: dict[str, intervals.Ranges] = {}
        for other in contexts:
            for r, n in other.vector.items():
                if n > vector.get(r, 0):
                    vector[r] = n
            for r, ranges in other.cloud.items():
                gathered = above.get(r)
                if gathered is None:
                    above[r] = list(ranges)
                else:
                    gathered.extend(ranges)
        cloud: dict[str, intervals.Ranges] = {}
        for r, ranges in above.items():
            ranges.sort()
            top = vector.get(r, 0)
            out: intervals.Ranges = []
            for lo, hi in ranges:
                if lo <= top + 1:  # reaches the prefix (only before any range is kept)
                    if hi > top:
                        top = hi
                elif out and lo <= out[-1][1] + 1:
                    if hi > out[-1][1]:
                        out[-1] = (out[-1][0], hi)
                else:
                    out.append((lo, hi))
            if top:
                vector[r] = top
            if out:
                cloud[r] = out
        ctx.vector, ctx.cloud = vector, cloud
        return ctx

    def _put_ranges(self, replica: str, ranges: intervals.Ranges) -> None:
        """Set `replica`'s dots, absent so far, to canonical `ranges` (sorted, non-adjacent)."""
        if ranges and ranges[0][0] == 1:
            self.vector[replica] = ranges[0][1]
            ranges = ranges[1:]
        if ranges:
            self.cloud[replica] = ranges

    def copy(self) -> CausalContext:
        ctx = CausalContext.__new__(CausalContext)
        ctx.vector = self.vector.copy()
        ctx.cloud = {r: list(ranges) for r, ranges in self.cloud.items()} if self.cloud else {}
        return ctx

    def assign(self, other: CausalContext) -> None:
        """Become a copy of `other`, in place (nested values may share this object)."""
        self.vector = dict(other.vector)
        self.cloud = {r: list(ranges) for r, ranges in other.cloud.items()}

    def contains(self, dot: Dot) -> bool:
        replica, counter = dot
        if counter <= self.vector.get(replica, 0):
            return True
        ranges = self.cloud.get(replica)
        return ranges is not None and intervals.contains(ranges, counter)

    __contains__ = contains

    def max_counter(self, replica: str) -> int:
        ranges = self.cloud.get(replica)
        return ranges[-1][1] if ranges else self.vector.get(replica, 0)

    def next_dot(self, replica: str) -> Dot:
        """A dot not yet in this context for `replica`; add it to record its use."""
        return Dot(replica, self.max_counter(replica) + 1)

    def take_next(self, replica: str) -> Dot:
        """`next_dot` and `add` in one: a fresh dot of `replica`, recorded (every local
        update draws one; without ranges above the prefix it only bumps the prefix)."""
        if replica not in self.cloud:
            counter = self.vector.get(replica, 0) + 1
            self.vector[replica] = counter
            return _new_tuple(Dot, (replica, counter))  # `Dot(...)` without its Python frame
        d = self.next_dot(replica)
        self.add(d)
        return d

    def add(self, dot: Dot) -> None:
        self.add_range(dot.replica, dot.counter, dot.counter)

    def add_range(self, replica: str, lo: int, hi: int) -> bool:
        """Add the dots `replica`:lo..hi; return whether any was new."""
        top = self.vector.get(replica, 0)
        lo = max(lo, top + 1)
        if lo > hi:
            return False
        if lo == top + 1 and replica not in self.cloud:
            self.vector[replica] = hi  # the common case: the next dots in order
            return True
        ranges = self.cloud.setdefault(replica, [])
        grew = intervals.add(ranges, lo, hi)
        self._absorb(replica)
        return grew

    def _absorb(self, replica: str) -> None:
        """Fold a range that now starts right after the prefix into the prefix."""
        ranges = self.cloud.get(replica)
        if ranges and ranges[0][0] <= self.vector.get(replica, 0) + 1:
            self.vector[replica] = ranges.pop(0)[1]
        if ranges is not None and not ranges:
            del self.cloud[replica]

    def ranges(self, replica: str) -> intervals.Ranges:
        """All of `replica`'s dots as ranges (the prefix first), sorted and non-adjacent."""
        top = self.vector.get(replica, 0)
        head = [(1, top)] if top else []
        return head + self.cloud.get(replica, [])

    def replicas(self) -> set[str]:
        return set(self.vector) | set(self.cloud)

    def merge(self, other: CausalContext) -> bool:
        """Join `other` into this context in place; return whether this context grew."""
        grew = False
        for r, n in other.vector.items():
            grew = self.add_range(r, 1, n) or grew
        for r, ranges in other.cloud.items():
            for lo, hi in ranges:
                grew = self.add_range(r, lo, hi) or grew
        return grew

    def minus(self, other: CausalContext) -> CausalContext:
        """The dots of this context that `other` lacks, as a context (may be gapped).

        Where `other` holds only a prefix of a replica's dots (the usual case: a replica's
        state against a received delta), its ranges are cut at that prefix in one pass."""
        missing = CausalContext.__new__(CausalContext)
        missing.vector, missing.cloud = {}, {}
        vector, cloud = self.vector, self.cloud
        for r in vector.keys() | cloud.keys() if cloud else vector:
            if r in other.cloud:
                missing._put_ranges(r, intervals.subtract(self.ranges(r), other.ranges(r)))
                continue
            top = other.vector.get(r, 0)
            ranges = self.ranges(r)
            if top:
                ranges = [(lo if lo > top else top + 1, hi) for lo, hi in ranges if hi > top]
            missing._put_ranges(r, ranges)
        return missing

    def covers(self, other: CausalContext) -> bool:
        """True when every dot of `other` is in this context."""
        for r in other.replicas():
            if other.max_counter(r) <= self.vector.get(r, 0):
                continue
            if intervals.subtract(other.ranges(r), self.ranges(r)):
                return False
        return True

    def dots(self) -> Iterator[Dot]:
        """Every dot, one by one, each replica's in order: callers compare the count first
        (`has_more_dots_than`), it can be huge. (Read on every received delta: the tuples
        are made directly, not through the named tuple's constructor.)"""
        make = tuple.__new__
        cloud = self.cloud
        for r, n in self.vector.items():
            for counter in range(1, n + 1):
                yield make(Dot, (r, counter))
            for lo, hi in cloud.get(r, ()):
                for counter in range(lo, hi + 1):
                    yield make(Dot, (r, counter))
        vector = self.vector
        for r, ranges in cloud.items():
            if r not in vector:
                for lo, hi in ranges:
                    for counter in range(lo, hi + 1):
                        yield make(Dot, (r, counter))

    def version_vector(self) -> VersionVector:
        """Per replica, the highest counter seen (the ranges' maximum where they run ahead)."""
        return VersionVector({r: self.max_counter(r) for r in self.replicas()})

    def dot_count(self) -> int:
        count = sum(self.vector.values())
        for ranges in self.cloud.values():
            for lo, hi in ranges:
                count += hi - lo + 1
        return count

    def has_more_dots_than(self, limit: int) -> bool:
        """`dot_count() > limit`, stopping once it is known. The per-key joins choose the
        smaller side by comparing a whole delta's context with one key's few dots: a full
        count there cost O(the delta's ranges) per key, O(keys x ranges) per join."""
        count = 0
        for n in self.vector.values():
            count += n
            if count > limit:
                return True
        for ranges in self.cloud.values():
            for lo, hi in ranges:
                count += hi - lo + 1
                if count > limit:
                    return True
        return count > limit  # (an empty context against a negative limit)

    def is_empty(self) -> bool:
        return not self.vector and not self.cloud

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CausalContext):
            return self.vector == other.vector and self.cloud == other.cloud
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_wire(self) -> list[object]:
        """[{replica: prefix}, [[replica, first, last], ...]]: compact however gapped."""
        return [
            dict(sorted(self.vector.items())),
            [[r, lo, hi] for r in sorted(self.cloud) for lo, hi in self.cloud[r]],
        ]

    def __repr__(self) -> str:
        return f"CausalContext({self.vector!r}, cloud={self.cloud!r})"
