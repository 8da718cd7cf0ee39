"""The store of an ORMap (Almeida et al.'s DotMap<K, V>): key -> nested causal value, with an
index dot -> key so that small deltas find their keys without scanning the map, and the cache
of the map's value (`crdtstate.types.snapshots`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .causal import CausalCrdt
from .clocks import CausalContext, Dot
from .kernel import held_among
from .snapshots import SnapshotCache


class MapStore:
    """key -> nested causal value (never empty), with an index dot -> key.

    The index only grows between rebuilds (a dot is born under one key and never reused), so a
    stale entry is harmless: `holds` checks the nested store. It lets a small delta find the
    keys whose dots it removes without scanning the map.
    """

    __slots__ = ("_cache", "_rebuild_at", "entries", "owner", "value_cls")
    nested = True  # its values are causal values (how `bulkjoin` tells a map's store)

    def __init__(self, value_cls: type[CausalCrdt] | None = None) -> None:
        self.value_cls = value_cls
        self.entries: dict[Any, CausalCrdt] = {}
        self.owner: dict[Dot, Any] = {}
        self._rebuild_at = 1024
        # the map's value, kept current key by key: every change of `entries` goes through
        # `put`, `pop` or `restore_key`, which touch the key (nested values change in place
        # and are then `put` again, after the map's mutator called `settle`). Made at the
        # first read: a delta's store is never read.
        self._cache: SnapshotCache | None = None

    @property
    def cache(self) -> SnapshotCache:
        cache = self._cache
        if cache is None:
            cache = self._cache = SnapshotCache()
        return cache

    def settle(self) -> None:
        """About to change a nested value in place: compute a lazy value still held."""
        cache = self._cache
        if cache is not None and cache._pending is not None:
            cache.settle()

    def put(self, key: Any, value: CausalCrdt, new_dots: Any = None) -> None:
        """Keep `value` under `key` if it holds dots, else drop the key.

        `new_dots`, when given, are the only dots the value gained since it was last put."""
        cache = self._cache
        if cache is not None:
            cache.touch(key)
        if value.store.is_empty():
            self.entries.pop(key, None)
            return
        self.entries[key] = value
        self.index(key, value.store.dots() if new_dots is None else new_dots)

    def keep_write(self, key: Any, value: CausalCrdt, dot: Dot) -> None:
        """`put(key, value, (dot,))` for a register just written at `dot` (never empty)."""
        cache = self._cache
        if cache is not None and (cache._pending is not None or cache._map is not None):
            cache.touch(key)  # (which does nothing otherwise: a value never read)
        self.entries[key] = value
        owner = self.owner
        owner[dot] = key
        if len(owner) > self._rebuild_at:
            self.index(key, ())

    def value_of(self, key: Any) -> Any:
        """The value under `key` (what the map's snapshot holds for it)."""
        return self.entries[key].value

    def pop(self, key: Any) -> CausalCrdt | None:
        """Remove `key`; the value it held, if any."""
        cache = self._cache
        if cache is not None:
            cache.touch(key)
        return self.entries.pop(key, None)

    def index(self, key: Any, dots: Any) -> None:
        for d in dots:
            self.owner[d] = key
        if len(self.owner) > self._rebuild_at:
            self.owner = {d: k for k, v in self.entries.items() for d in v.store.dots()}
            self._rebuild_at = 2 * len(self.owner) + 1024

    def copy_into(self, ctx: CausalContext) -> MapStore:
        store = MapStore(self.value_cls)
        for key, value in self.entries.items():
            store.put(key, value.copy_into(ctx))
        return store

    def bind(self, ctx: CausalContext) -> None:
        for value in self.entries.values():
            value.bind(ctx)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MapStore):
            return NotImplemented
        if self.entries.keys() != other.entries.keys():
            return False
        return all(
            v.kind == other.entries[k].kind and v.store == other.entries[k].store
            for k, v in self.entries.items()
        )

    __hash__ = None  # type: ignore[assignment]

    def holds(self, d: Dot) -> bool:
        key = self.owner.get(d)
        value = self.entries.get(key) if key is not None else None
        return value is not None and value.store.holds(d)

    def dots(self) -> Iterator[Dot]:
        for value in self.entries.values():
            yield from value.store.dots()

    def dot_total(self) -> int:
        return len(self.owner)

    def is_empty(self) -> bool:
        return not self.entries

    def join(self, ctx: CausalContext, other: MapStore, other_ctx: CausalContext) -> bool:
        self.settle()  # nested values are joined in place before they are put
        changed = False
        for key, theirs in other.entries.items():
            mine = self.entries.get(key)
            if mine is None:
                mine = (self.value_cls or type(theirs))(None, ctx)
            changed = mine.store.join(ctx, theirs.store, other_ctx) or changed
            self.put(key, mine, theirs.store.dots())
        for key in self._keys_seen_by(other_ctx) - other.entries.keys():
            mine = self.entries[key]
            changed = mine.store.join(ctx, type(mine).empty_store(), other_ctx) or changed
            self.put(key, mine, ())
        return changed

    def _keys_seen_by(self, ctx: CausalContext) -> set[Any]:
        """Keys holding a dot that `ctx` has seen (scanning the smaller side)."""
        if not ctx.has_more_dots_than(len(self.owner)):
            return {self.owner[d] for d in ctx.dots() if self.holds(d)}
        return {k for k, v in self.entries.items() if any(ctx.contains(d) for d in v.store.dots())}

    def unseen_by(self, ctx: CausalContext) -> MapStore:
        store = MapStore(self.value_cls)
        for key, value in self.entries.items():
            store.put(key, type(value)(value.store.unseen_by(ctx), None))
        return store

    def part_among(self, dots: CausalContext, ctx: CausalContext) -> MapStore:
        """`unseen_by(ctx)` visiting only the keys holding one of `dots` (our context less
        `ctx`), found through the index: O(dots + their keys' values), not O(map)."""
        if dots.has_more_dots_than(len(self.owner) - 1):
            return self.unseen_by(ctx)
        store = MapStore(self.value_cls)
        for key in {self.owner[d] for d in held_among(self, dots)}:
            value = self.entries[key]
            store.put(key, type(value)(value.store.unseen_by(ctx), None))
        return store

    def snapshot_key(self, key: Any) -> CausalCrdt | None:
        value = self.entries.get(key)
        return None if value is None else value.copy_into(value.context)

    def restore_key(self, key: Any, saved: CausalCrdt | None) -> None:
        if saved is None:
            self.pop(key)
        else:
            self.put(key, saved)
