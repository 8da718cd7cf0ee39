"""Values of keyed types (sets, maps) that cost O(change) to keep current, not O(state).

A store keeps a `SnapshotCache`: a persistent hash map (a HAMT, from `immutables`) of its
value, and the keys touched since that map was last brought up to date. Reading the value
re-derives only those keys, in O(touched x log n); the snapshot handed out before stays
valid and unchanged, since the map is persistent. So `update()` and `get()` of a map with a
million keys cost what the change costs, and a subscriber's change can say which keys were
added, removed or changed (`KeyChanges.between`) without diffing whole states.

Until a value is first read nothing is tracked (a relay that only merges pays nothing); a
store whose touched keys outnumber half its keys is rebuilt whole (the same amortised cost).

A map's value is handed out lazily (`SnapshotCache.read_lazy`): the snapshot is computed when
first looked at, or when the store is about to change while it is still held (`settle`, which
every map mutator calls first). `update()` returns the new value, and most callers drop it
unread: then nothing is computed at all, and the same lazy object, which nobody can have
looked at, is handed out again by the next read (`held_elsewhere`): no allocation per update.
"""

from __future__ import annotations

import sys
import weakref
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Any, Protocol

import immutables

LOG_LENGTH = 64  # refreshes remembered for `KeyChanges.between`

_refcount: Callable[[object], int] = getattr(sys, "getrefcount", lambda obj: 0)
_weakrefcount = weakref.getweakrefcount


class _Holder:
    __slots__ = ("_pending",)


def _calibrate() -> int:
    """What `getrefcount(cache._pending)` reports when only the cache holds the object; -1
    when this interpreter cannot tell one more holder apart (every lazy value then counts as
    held: computed before the store changes, never handed out twice)."""
    if not hasattr(sys, "getrefcount"):
        return -1
    holder = _Holder()
    holder._pending = _Holder()
    alone = _refcount(holder._pending)
    other = holder._pending  # noqa: F841 - the holder the probe must see
    return alone if _refcount(holder._pending) == alone + 1 else -1


ONLY_CACHE = _calibrate()


def held_elsewhere(cache: SnapshotCache) -> bool:
    """Whether the lazy snapshot `cache` handed out (`_pending`, not None) may be looked at:
    anything but the cache holds it, strongly or weakly. One nobody holds can never be seen,
    so it is neither computed before a change nor replaced: it stands for whatever the store
    holds when it is next handed out. (Hot paths inline this test.)"""
    pending = cache._pending
    return _refcount(pending) > ONLY_CACHE + 1 or _weakrefcount(pending) > 0  # +1: `pending`


class _Lineage:
    """The snapshots of one cache since its last full rebuild, and the keys each refresh
    touched (the latest `LOG_LENGTH` refreshes): what `KeyChanges.between` reads."""

    __slots__ = ("log",)

    def __init__(self) -> None:
        self.log: deque[tuple[int, Set[Hashable]]] = deque(maxlen=LOG_LENGTH)


class MapSnapshot(Mapping[Any, Any]):
    """An immutable mapping that compares equal to a dict with the same items.

    A lazy one (`SnapshotCache.read_lazy`) holds no map until first looked at: `_hamt()`."""

    __slots__ = ("__weakref__", "_gen", "_lineage", "_map", "_source")

    def __init__(self, hamt: immutables.Map, lineage: _Lineage, gen: int) -> None:
        self._map = hamt
        self._lineage = lineage
        self._gen = gen
        self._source: _Source | None = None

    def _hamt(self) -> immutables.Map:
        hamt = self._map
        if hamt is None:
            store = self._source  # the store whose cache handed this out
            store._cache._materialize(self, store.entries, store.value_of)  # type: ignore[union-attr]
            hamt = self._map
        return hamt

    def __reduce__(self) -> Any:
        """Copied and pickled as computed (never with the store a lazy one reads)."""
        return (MapSnapshot, (self._hamt(), self._lineage, self._gen))

    def __getitem__(self, key: Any) -> Any:
        return self._hamt()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._hamt())

    def __len__(self) -> int:
        return len(self._hamt())

    def __contains__(self, key: object) -> bool:
        return key in self._hamt()

    def __eq__(self, other: object) -> bool:
        hamt = self._hamt()
        if isinstance(other, MapSnapshot) and other._hamt() is hamt:
            return True
        if isinstance(other, Mapping):
            return len(self) == len(other) and all(
                k in other and other[k] == v for k, v in hamt.items()
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a dict's: values may be unhashable

    def __repr__(self) -> str:
        return repr(dict(self._hamt()))


class SetSnapshot(Set[Any]):
    """An immutable set that compares equal to a frozenset with the same elements."""

    __slots__ = ("_gen", "_hash", "_lineage", "_map")

    def __init__(self, hamt: immutables.Map, lineage: _Lineage, gen: int) -> None:
        self._map = hamt
        self._lineage = lineage
        self._gen = gen
        self._hash: int | None = None

    def _hamt(self) -> immutables.Map:
        return self._map

    @classmethod
    def _from_iterable(cls, it: Any) -> frozenset[Any]:
        return frozenset(it)  # set algebra (`|`, `&`, `-`) gives plain frozensets

    def __contains__(self, element: object) -> bool:
        return element in self._map

    def __iter__(self) -> Iterator[Any]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._map))  # equal to an equal frozenset's hash
        return self._hash

    def __repr__(self) -> str:
        return repr(frozenset(self._map)) if self._map else "frozenset()"


Snapshot = MapSnapshot | SetSnapshot


class _Source(Protocol):
    """What a lazy map snapshot reads when first looked at: the store whose cache made it."""

    _cache: SnapshotCache | None
    entries: Collection[Hashable]

    def value_of(self, key: Any) -> Any: ...


class SnapshotCache:
    """The persistent value of one keyed store and the keys touched since it was refreshed."""

    __slots__ = ("_gen", "_lineage", "_map", "_pending", "_snapshot", "_touched")

    def __init__(self) -> None:
        # Every store and every delta has a cache, most never read: nothing is allocated
        # until the first read (`_touched` and `_lineage` are shared empty placeholders).
        self._map: immutables.Map | None = None
        self._touched: set[Hashable] = _NO_KEYS
        self._gen = 0
        self._lineage: _Lineage = _NO_LINEAGE
        self._snapshot: Snapshot | None = None
        self._pending: MapSnapshot | None = None  # a lazy snapshot handed out (never computed)

    def touch(self, key: Hashable) -> None:
        """The value under `key` may have changed (only tracked once a value was read).

        Called before `key`'s entry changes, or after, when `settle` was called before."""
        if self._pending is not None:
            self.settle()
        if self._map is not None:
            self._touched.add(key)
            self._snapshot = None

    def settle(self) -> None:
        """The store is about to change: a lazy snapshot held elsewhere is computed now, from
        the state it stands for (one nobody holds is kept, to be handed out again)."""
        if self._pending is not None and held_elsewhere(self):
            pending = self._pending
            self._pending = None
            pending._hamt()

    def reset(self) -> None:
        """Forget everything (the store changed wholesale): the next read rebuilds."""
        self.settle()
        self._map = None
        self._touched = _NO_KEYS
        self._snapshot = None

    def shared(self) -> SnapshotCache:
        """A cache for a copy of the store: the same persistent map, no history."""
        twin = SnapshotCache()
        if self._map is not None:
            twin._map = self._map
            twin._touched = set(self._touched)
            twin._lineage = _Lineage()
        return twin

    def read(
        self,
        keys: Collection[Hashable],
        value_of: Callable[[Any], Any],
        wrap: type[MapSnapshot] | type[SetSnapshot],
    ) -> Any:
        """The current value: `value_of(key)` for each of `keys`, as a `wrap` snapshot."""
        if self._snapshot is not None:
            return self._snapshot
        self._refresh(keys, value_of)
        self._snapshot = wrap(self._map, self._lineage, self._gen)
        return self._snapshot

    def read_lazy(self, source: _Source) -> MapSnapshot:
        """`read(source.entries, source.value_of, MapSnapshot)`, computed only when looked at
        (see the module doc); `source` is the store this is the cache of (held as it is: no
        tuple, no bound method per update). Its owner must call `settle` before any change to
        its keys or values."""
        snapshot = self._snapshot
        if snapshot is not None:
            return snapshot  # type: ignore[return-value]
        pending = self._pending
        if pending is not None:  # held and the store unchanged since, or held by nobody
            return pending
        snapshot = MapSnapshot.__new__(MapSnapshot)  # no map yet: `_hamt()` computes it
        snapshot._map = None
        snapshot._source = source
        self._pending = snapshot
        return snapshot

    def _materialize(
        self, snapshot: MapSnapshot, keys: Collection[Hashable], value_of: Callable[[Any], Any]
    ) -> None:
        """Compute the lazy `snapshot` (the value now, which is the value it was handed out
        for: the store has not changed since, or it would have been settled)."""
        self._pending = None
        self._refresh(keys, value_of)
        snapshot._map, snapshot._lineage, snapshot._gen = self._map, self._lineage, self._gen
        snapshot._source = None
        self._snapshot = snapshot

    def _refresh(self, keys: Collection[Hashable], value_of: Callable[[Any], Any]) -> None:
        """Bring the persistent map up to date with the touched keys (or rebuild it)."""
        touched = self._touched
        if self._map is None or len(touched) > max(LOG_LENGTH, len(keys) // 2):
            self._map = immutables.Map((key, value_of(key)) for key in keys)
            self._lineage = _Lineage()
        elif len(touched) == 1:  # one key changed (a small update): no mutation context
            (key,) = touched
            hamt = self._map
            if key in keys:
                self._map = hamt.set(key, value_of(key))
            elif key in hamt:
                self._map = hamt.delete(key)
            self._lineage.log.append((self._gen + 1, touched))  # never added to again
        elif touched:
            with self._map.mutate() as mutation:
                for key in touched:
                    if key in keys:
                        mutation[key] = value_of(key)
                    else:
                        mutation.pop(key, None)
                self._map = mutation.finish()
            self._lineage.log.append((self._gen + 1, touched))
        self._gen += 1
        self._touched = set()


_NO_KEYS: set[Hashable] = frozenset()  # type: ignore[assignment]  # never added to
_NO_LINEAGE = _Lineage()  # never logged to: a cache's own lineage replaces it on first read


@dataclass(frozen=True, slots=True)
class KeyChanges:
    """Which keys (map) or elements (set) a change added, removed, or changed the value of."""

    added: frozenset[Any] = frozenset()
    removed: frozenset[Any] = frozenset()
    changed: frozenset[Any] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @classmethod
    def between(cls, old: Any, new: Any) -> KeyChanges | None:
        """What changed from `old` to `new`, or None when they are not keyed snapshots.

        Between two snapshots of one cache only the keys touched in between are looked at;
        otherwise (a snapshot from before a rebuild, say) every key is compared.
        """
        if not isinstance(new, MapSnapshot | SetSnapshot):
            return None
        if not isinstance(old, MapSnapshot | SetSnapshot):
            return None if old is not None else cls(added=frozenset(new))
        old_map, new_map = old._hamt(), new._hamt()  # a lazy snapshot is computed here
        candidates = _touched_between(old, new)
        if candidates is None:
            candidates = set(old_map.keys()) | set(new_map.keys())
        added, removed, changed = set(), set(), set()
        for key in candidates:
            before, after = key in old_map, key in new_map
            if after and not before:
                added.add(key)
            elif before and not after:
                removed.add(key)
            elif before and after and old_map[key] != new_map[key]:
                changed.add(key)
        return cls(frozenset(added), frozenset(removed), frozenset(changed))


def _touched_between(old: Snapshot, new: Snapshot) -> set[Any] | None:
    """The keys touched from `old` to `new` (both computed), or None when the lineage's log
    cannot say."""
    if old._map is new._map:
        return set()
    if old._lineage is not new._lineage or old._gen > new._gen:
        return None
    log = new._lineage.log
    if not log or log[0][0] > old._gen + 1:
        return None
    keys: set[Any] = set()
    for gen, touched in log:
        if old._gen < gen <= new._gen:
            keys |= touched
    return keys
