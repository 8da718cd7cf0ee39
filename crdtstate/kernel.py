"""The shared dot kernel: a map from keys to sets of dots, joined against causal contexts.

AWSet elements, MVRegister values and flag tokens are all "keys that hold dots". Joining two
such stores keeps a dot when both stores have it, or when one has it and the other's context
has never seen it (Almeida et al., the DotMap<K, DotSet> join). A dot seen and dropped by
either side is a removal, which is why removals need no tombstones.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Generic, TypeVar

from .clocks import CausalContext, Dot

K = TypeVar("K", bound=Hashable)


class KeyedDots(Generic[K]):
    """key -> non-empty set of dots, with a reverse index dot -> key for cheap removals."""

    __slots__ = ("entries", "owner")

    def __init__(self) -> None:
        self.entries: dict[K, set[Dot]] = {}
        self.owner: dict[Dot, K] = {}

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

    def put(self, key: K, d: Dot) -> None:
        self.entries.setdefault(key, set()).add(d)
        self.owner[d] = key

    def drop_dot(self, d: Dot) -> None:
        key = self.owner.pop(d)
        dots = self.entries[key]
        dots.discard(d)
        if not dots:
            del self.entries[key]

    def pop_key(self, key: K) -> set[Dot]:
        """Remove `key` and return the dots it held (empty if absent)."""
        dots = self.entries.pop(key, set())
        for d in dots:
            del self.owner[d]
        return dots

    def pop_all(self) -> set[Dot]:
        dots = set(self.owner)
        self.entries.clear()
        self.owner.clear()
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
        for d in self._dots_seen_by(other_ctx):
            if d not in other.owner:
                self.drop_dot(d)
                changed = True
        return changed

    def _dots_seen_by(self, other_ctx: CausalContext) -> list[Dot]:
        """Our dots that `other_ctx` contains, scanning whichever side is smaller."""
        if other_ctx.dot_count() <= len(self.owner):
            return [d for d in other_ctx.dots() if d in self.owner]
        return [d for d in self.owner if other_ctx.contains(d)]

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
        store = delta.restricted_to_unseen(ctx)
        context = delta_ctx.minus(ctx)
        for d in self._dots_seen_by(delta_ctx):
            if d not in delta.owner:
                context.add(d)
        return store, context

    def pairs(self) -> Iterator[tuple[K, set[Dot]]]:
        return iter(self.entries.items())
