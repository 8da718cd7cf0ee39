"""Logical clocks: dots, version vectors and causal contexts (DESIGN §3, Clocks).

These are pure values with no I/O. A `CausalContext` is the "what have I seen" part of every
causal CRDT: a version vector for the contiguous prefix of each replica's dots plus a cloud of
dots received out of order, compacted into the vector as gaps fill.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple


class Dot(NamedTuple):
    """One event: the `counter`-th event made by `replica`."""

    replica: str
    counter: int


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
    """A set of dots, stored as a version vector plus a cloud of out-of-order dots.

    Invariant: no dot in the cloud is covered by the vector, and no replica's next dot
    (`vector[r] + 1`) is in the cloud (compaction moves it into the vector).
    """

    __slots__ = ("cloud", "vector")

    def __init__(self, vector: Mapping[str, int] | None = None, cloud: Iterable[Dot] = ()) -> None:
        self.vector: dict[str, int] = {r: n for r, n in (vector or {}).items() if n > 0}
        self.cloud: set[Dot] = set()
        for dot in cloud:
            self.add(dot)

    @classmethod
    def of(cls, dots: Iterable[Dot]) -> CausalContext:
        return cls(cloud=dots)

    def copy(self) -> CausalContext:
        ctx = CausalContext()
        ctx.vector = dict(self.vector)
        ctx.cloud = set(self.cloud)
        return ctx

    def contains(self, dot: Dot) -> bool:
        return dot.counter <= self.vector.get(dot.replica, 0) or dot in self.cloud

    __contains__ = contains

    def max_counter(self, replica: str) -> int:
        top = self.vector.get(replica, 0)
        for dot in self.cloud:
            if dot.replica == replica and dot.counter > top:
                top = dot.counter
        return top

    def next_dot(self, replica: str) -> Dot:
        """A dot not yet in this context for `replica`; add it to record its use."""
        return Dot(replica, self.max_counter(replica) + 1)

    def add(self, dot: Dot) -> None:
        if self.contains(dot):
            return
        if dot.counter == self.vector.get(dot.replica, 0) + 1:
            self.vector[dot.replica] = dot.counter
            self._absorb(dot.replica)
        else:
            self.cloud.add(dot)

    def _absorb(self, replica: str) -> None:
        """Move the dots of `replica` that now extend its vector out of the cloud."""
        top = self.vector.get(replica, 0)
        while Dot(replica, top + 1) in self.cloud:
            top += 1
            self.cloud.discard(Dot(replica, top))
        if top:
            self.vector[replica] = top

    def merge(self, other: CausalContext) -> bool:
        """Join `other` into this context in place; return whether this context grew."""
        touched: set[str] = set()
        for r, n in other.vector.items():
            if n > self.vector.get(r, 0):
                self.vector[r] = n
                touched.add(r)
        for dot in other.cloud:
            if not self.contains(dot):
                self.cloud.add(dot)
                touched.add(dot.replica)
        if touched:
            self.cloud = {d for d in self.cloud if d.counter > self.vector.get(d.replica, 0)}
            for r in touched:
                self._absorb(r)
        return bool(touched)

    def minus(self, other: CausalContext) -> CausalContext:
        """The dots of this context that `other` lacks, as a context (may be gapped)."""
        missing = CausalContext()
        for r, n in self.vector.items():
            low = other.vector.get(r, 0)
            for counter in range(low + 1, n + 1):
                dot = Dot(r, counter)
                if dot not in other.cloud:
                    missing.add(dot)
        for dot in self.cloud:
            if not other.contains(dot):
                missing.add(dot)
        return missing

    def covers(self, other: CausalContext) -> bool:
        """True when every dot of `other` is in this context."""
        if any(n > self.vector.get(r, 0) for r, n in other.vector.items()):
            # The vector part may still be covered by our cloud; check dot by dot.
            for r, n in other.vector.items():
                for counter in range(self.vector.get(r, 0) + 1, n + 1):
                    if Dot(r, counter) not in self.cloud:
                        return False
        return all(self.contains(d) for d in other.cloud)

    def dots(self) -> Iterator[Dot]:
        for r, n in self.vector.items():
            for counter in range(1, n + 1):
                yield Dot(r, counter)
        yield from self.cloud

    def version_vector(self) -> VersionVector:
        """Per replica, the highest counter seen (the cloud's maximum where it runs ahead)."""
        top = dict(self.vector)
        for dot in self.cloud:
            if dot.counter > top.get(dot.replica, 0):
                top[dot.replica] = dot.counter
        return VersionVector(top)

    def dot_count(self) -> int:
        return sum(self.vector.values()) + len(self.cloud)

    def is_empty(self) -> bool:
        return not self.vector and not self.cloud

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CausalContext):
            return self.vector == other.vector and self.cloud == other.cloud
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_wire(self) -> list[object]:
        """[vector, single cloud dots] or, when the cloud has runs of consecutive counters,
        [vector, single dots, {replica: [first, last, first, last, ...]}].

        Contexts shipped in deltas are often gapped (a digest answer leaves out the live dots
        the peer has seen, a forwarded delta starts above the receiver's vector), and a run
        costs two integers instead of a pair per dot. A context without runs encodes exactly
        as before the third element existed, and decoders accept both forms.
        """
        singles: list[list[object]] = []
        runs: dict[str, list[int]] = {}
        by_replica: dict[str, list[int]] = {}
        for d in self.cloud:
            by_replica.setdefault(d.replica, []).append(d.counter)
        for replica in sorted(by_replica):
            counters = sorted(by_replica[replica])
            start = prev = counters[0]
            for c in [*counters[1:], None]:
                if c is not None and c == prev + 1:
                    prev = c
                    continue
                if prev > start:
                    runs.setdefault(replica, []).extend((start, prev))
                else:
                    singles.append([replica, start])
                if c is not None:
                    start = prev = c
        vector = dict(sorted(self.vector.items()))
        return [vector, singles, runs] if runs else [vector, singles]

    def __repr__(self) -> str:
        cloud = sorted(self.cloud)
        return f"CausalContext({self.vector!r}, cloud={cloud!r})"
