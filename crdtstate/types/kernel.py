"""The shared dot kernel: dot stores joined against causal contexts (Almeida et al. 2018).

Every causal type is a dot store plus a causal context. `KeyedDots` (DotMap<K, DotSet>) holds
set elements and flag tokens; `DotFun` (dot -> value) holds register writes and causal counter
entries; the ORMap's store (types/ormap.py) nests whole causal values under keys. Joining two
stores keeps a dot when both have it, or when one has it and the other's context has never
seen it. A dot seen and dropped by either side is a removal, which is why removals need no
tombstones. Every store offers the same small protocol (`DotStore`), so the join, the optimal
delta and the RR step are written once, here.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Generic, Protocol, Self, TypeVar

from .clocks import CausalContext, Dot
from .snapshots import SnapshotCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class DotStore(Protocol):
    """What the kernel needs of a store; the context lives beside it, in the CRDT."""

    def join(self, ctx: CausalContext, other: Self, other_ctx: CausalContext) -> bool: ...
    def holds(self, d: Dot) -> bool: ...
    def dots(self) -> Iterator[Dot]: ...
    def dot_total(self) -> int: ...
    def is_empty(self) -> bool: ...
    def unseen_by(self, ctx: CausalContext) -> Self: ...
    def part_among(self, dots: CausalContext, ctx: CausalContext) -> Self: ...


def held_among(store: DotStore, dots: CausalContext) -> Iterator[Dot]:
    """The dots of `dots` that `store` holds, one by one: callers check first that `dots` is
    the smaller side (`dots.has_more_dots_than(store.dot_total())`)."""
    return (d for d in dots.dots() if store.holds(d))


def seen_dots(store: DotStore, ctx: CausalContext) -> list[Dot]:
    """The dots of `store` that `ctx` contains, scanning whichever side is smaller."""
    if not ctx.has_more_dots_than(store.dot_total()):
        return [d for d in ctx.dots() if store.holds(d)]
    return [d for d in store.dots() if ctx.contains(d)]


def novel_context(
    store: DotStore, ctx: CausalContext, delta: DotStore, delta_ctx: CausalContext
) -> CausalContext:
    """The context part of the RR step (Enes et al.): dots new to `ctx`, plus the dots we
    still hold that the delta has seen and dropped (its removals of what we have)."""
    context = delta_ctx.minus(ctx)
    for d in seen_dots(store, delta_ctx):
        if not delta.holds(d):
            context.add(d)
    return context


class KeyedDots(Generic[K]):
    """key -> non-empty set of dots, with a reverse index dot -> key for cheap removals.

    Every change goes through `put`, `drop_dot`, `pop_key` and `pop_all`, which tell `cache`
    (the persistent value a set type reads, see `crdtstate.types.snapshots`) which keys moved.
    """

    __slots__ = ("cache", "entries", "owner")

    def __init__(self) -> None:
        self.entries: dict[K, set[Dot]] = {}
        self.owner: dict[Dot, K] = {}
        self.cache = SnapshotCache()

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[K, Iterable[Dot]]]) -> KeyedDots[K]:
        store: KeyedDots[K] = cls()
        for key, dots in pairs:
            for d in dots:
                store.put(key, d)
        return store

    def copy(self) -> KeyedDots[K]:
        store: KeyedDots[K] = KeyedDots()
        store.entries = {k: set(ds) for k, ds in self.entries.items()}
        store.owner = dict(self.owner)
        store.cache = self.cache.shared()
        return store

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __iter__(self) -> Iterator[K]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeyedDots):
            return self.entries == other.entries
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def dots_of(self, key: K) -> set[Dot]:
        return self.entries.get(key, set())

    def all_dots(self) -> Iterator[Dot]:
        return iter(self.owner)

    dots = all_dots

    def holds(self, d: Dot) -> bool:
        return d in self.owner

    def dot_total(self) -> int:
        return len(self.owner)

    def is_empty(self) -> bool:
        return not self.owner

    def snapshot_key(self, key: K) -> set[Dot] | None:
        dots = self.entries.get(key)
        return set(dots) if dots is not None else None

    def restore_key(self, key: K, saved: set[Dot] | None) -> None:
        self.pop_key(key)
        for d in saved or ():
            self.put(key, d)

    def put(self, key: K, d: Dot) -> None:
        dots = self.entries.get(key)
        if dots is None:
            dots = self.entries[key] = set()
            self.cache.touch(key)
        dots.add(d)
        self.owner[d] = key

    def drop_dot(self, d: Dot) -> None:
        key = self.owner.pop(d)
        dots = self.entries[key]
        dots.discard(d)
        if not dots:
            del self.entries[key]
            self.cache.touch(key)

    def pop_key(self, key: K) -> set[Dot]:
        """Remove `key` and return the dots it held (empty if absent)."""
        dots = self.entries.pop(key, set())
        for d in dots:
            del self.owner[d]
        self.cache.touch(key)
        return dots

    def pop_all(self) -> set[Dot]:
        dots = set(self.owner)
        self.entries.clear()
        self.owner.clear()
        self.cache.reset()
        return dots

    def join(self, ctx: CausalContext, other: KeyedDots[K], other_ctx: CausalContext) -> bool:
        """Join `other` (with its context) into this store, whose context is `ctx`.

        The caller merges the contexts afterwards. Returns whether this store changed.
        """
        changed = False
        for key, dots in other.entries.items():
            for d in dots:
                if d not in self.owner and not ctx.contains(d):
                    self.put(key, d)
                    changed = True
        for d in seen_dots(self, other_ctx):
            if d not in other.owner:
                self.drop_dot(d)
                changed = True
        return changed

    def restricted_to_unseen(self, ctx: CausalContext) -> KeyedDots[K]:
        """The entries holding dots that `ctx` has not seen (what a peer with `ctx` lacks)."""
        return KeyedDots.from_pairs(
            (key, [d for d in dots if not ctx.contains(d)]) for key, dots in self.entries.items()
        )

    def novel_part(
        self, ctx: CausalContext, delta: KeyedDots[K], delta_ctx: CausalContext
    ) -> tuple[KeyedDots[K], CausalContext]:
        """The smallest part of (delta, delta_ctx) not already in (self, ctx), after Enes et al.

        Keeps the delta's dots we have not seen, and the context dots that are new to us or
        that remove a dot we still hold.
        """
        return delta.restricted_to_unseen(ctx), novel_context(self, ctx, delta, delta_ctx)

    unseen_by = restricted_to_unseen

    def part_among(self, dots: CausalContext, ctx: CausalContext) -> KeyedDots[K]:
        """`unseen_by(ctx)` when the dots we hold unseen by `ctx` are all in `dots` (our
        context less `ctx`): O(dots), not O(store), when `dots` is the smaller side."""
        if dots.has_more_dots_than(len(self.owner) - 1):
            return self.restricted_to_unseen(ctx)
        return KeyedDots.from_pairs((self.owner[d], [d]) for d in held_among(self, dots))

    def pairs(self) -> Iterator[tuple[K, set[Dot]]]:
        return iter(self.entries.items())


class DotFun(Generic[V]):
    """dot -> value: each write is a dot carrying its value (registers, causal counters)."""

    __slots__ = ("values",)

    def __init__(self, values: dict[Dot, V] | None = None) -> None:
        self.values: dict[Dot, V] = values if values is not None else {}

    def copy(self) -> DotFun[V]:
        return DotFun(dict(self.values))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DotFun):
            return self.values == other.values
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def holds(self, d: Dot) -> bool:
        return d in self.values

    def dots(self) -> Iterator[Dot]:
        return iter(self.values)

    def dot_total(self) -> int:
        return len(self.values)

    def is_empty(self) -> bool:
        return not self.values

    def pop_all(self) -> set[Dot]:
        dots = set(self.values)
        self.values.clear()
        return dots

    def join(self, ctx: CausalContext, other: DotFun[V], other_ctx: CausalContext) -> bool:
        """As `KeyedDots.join`: a dot both hold carries the same value (one write, one dot)."""
        changed = False
        for d, v in other.values.items():
            if d not in self.values and not ctx.contains(d):
                self.values[d] = v
                changed = True
        for d in seen_dots(self, other_ctx):
            if d not in other.values:
                del self.values[d]
                changed = True
        return changed

    def unseen_by(self, ctx: CausalContext) -> DotFun[V]:
        return DotFun({d: v for d, v in self.values.items() if not ctx.contains(d)})

    def part_among(self, dots: CausalContext, ctx: CausalContext) -> DotFun[V]:
        """As `KeyedDots.part_among`."""
        if dots.has_more_dots_than(len(self.values) - 1):
            return self.unseen_by(ctx)
        return DotFun({d: self.values[d] for d in held_among(self, dots)})

    def __repr__(self) -> str:
        return f"DotFun({self.values!r})"
