"""The join of many causal deltas in one pass (what a push or a buffer fold ships for many
buffered groups), equal to the fold of pairwise `merge`s it replaces.

The pairwise join keeps a store dot when both sides hold it or the other side's context has
not seen it; over n deltas that is: a dot of any store survives unless some delta's context
has seen it while that delta's store lacks it. So the n-ary join is the union of the contexts
and of the stores less those "killed" dots, computed once, instead of n - 1 merges into a
growing copy (each re-checking the delta's context against it, and adding its ranges one by
one): the push of a busy replica joins hundreds of one-update deltas per frame.

Only the usual shapes take this path: sets and flags (`KeyedDots`), registers and causal
counters (`DotFun`), and maps of those (`MapStore` one level deep) whose dots each sit under
one key; anything else (nested maps, a dot under two keys of a map: input no replica makes)
returns None, and the caller folds pairwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .clocks import CausalContext, Dot
from .kernel import DotFun, KeyedDots

if TYPE_CHECKING:  # (a map's store is told by `MapStore.nested`: no import circle with causal)
    from .causal import CausalCrdt
    from .mapstore import MapStore

FLAT = (KeyedDots, DotFun)


def join_many(deltas: Sequence[CausalCrdt]) -> CausalCrdt | None:
    """The join of `deltas` (two or more, of one class), none of them changed; None when
    their stores are not of a shape handled here."""
    stores = [delta.store for delta in deltas]
    kind = type(stores[0])
    if any(type(store) is not kind for store in stores):
        return None
    candidates: Any  # set of dots, or dict dot -> key for maps
    nested = getattr(kind, "nested", False)  # a map's store: key -> causal value
    if nested:
        candidates = _map_dots(stores)
        if candidates is None:
            return None
    elif kind in FLAT:
        candidates = set()
        for store in stores:
            candidates.update(store.dots())
    else:
        return None
    contexts = [delta.context for delta in deltas]
    if nested:
        holders = [_map_holds(store, candidates) for store in stores]
    else:
        holders = [store.holds for store in stores]
    killed = _killed(holders, contexts, candidates)
    context = CausalContext.union(contexts)
    if kind is KeyedDots:
        store: Any = _keyed(stores, killed)
    elif kind is DotFun:
        store = _fun(stores, killed)
    else:
        store = _map(stores, killed, context)
    return type(deltas[0])(store, context)


def _killed(
    holders: list[Callable[[Dot], bool]], contexts: list[CausalContext], candidates: Any
) -> set[Dot]:
    """The candidate dots some delta's context has seen while its store lacks them (removed),
    scanning per delta whichever is smaller: its context or the candidates."""
    killed: set[Dot] = set()
    total = len(candidates)
    for holds, ctx in zip(holders, contexts, strict=True):
        dots = _few_dots(ctx, total)
        if dots is not None:
            for d in dots:
                if d in candidates and not holds(d):
                    killed.add(d)
        else:
            seen = ctx.contains
            for d in candidates:
                if seen(d) and not holds(d):
                    killed.add(d)
    return killed


def _few_dots(ctx: CausalContext, limit: int) -> list[tuple[str, int]] | None:
    """The dots of `ctx` as plain (replica, counter) tuples (equal to, and hashed as, their
    `Dot`s), or None when it has more than `limit`."""
    dots: list[tuple[str, int]] = []
    for r, n in ctx.vector.items():
        if n > limit:
            return None
        dots += [(r, c) for c in range(1, n + 1)]
    for r, ranges in ctx.cloud.items():
        for lo, hi in ranges:
            if lo == hi:
                dots.append((r, lo))
            elif hi - lo >= limit:
                return None
            else:
                dots += [(r, c) for c in range(lo, hi + 1)]
        if len(dots) > limit:
            return None
    return None if len(dots) > limit else dots


def _map_holds(store: MapStore, where: dict[Dot, Any]) -> Callable[[Dot], bool]:
    """Whether `store` holds candidate `d`, read in the value under its key (not through the
    map's index, which the pairwise join does not consult either)."""
    entries = store.entries

    def holds(d: Dot) -> bool:
        value = entries.get(where[d])
        return value is not None and value.store.holds(d)

    return holds


def _keyed(stores: list[KeyedDots[Any]], killed: set[Dot]) -> KeyedDots[Any]:
    """The union of the stores less `killed`; a dot stays under the key it had first (as
    the pairwise join keeps it)."""
    out: KeyedDots[Any] = KeyedDots()
    owner = out.owner
    for store in stores:
        for key, dots in store.entries.items():
            for d in dots:
                if d not in owner and d not in killed:
                    out.put(key, d)
    return out


def _fun(stores: list[DotFun[Any]], killed: set[Dot]) -> DotFun[Any]:
    values: dict[Dot, Any] = {}
    for store in stores:
        for d, v in store.values.items():
            if d not in values and d not in killed:
                values[d] = v
    return DotFun(values)


def _map_dots(stores: list[MapStore]) -> dict[Dot, Any] | None:
    """Every dot of the maps' values, with its key; None if a value is not flat, a dot sits
    under two keys (the pairwise join checks removals key by key) or a key holds two kinds
    of store (the pairwise join fails on those)."""
    where: dict[Dot, Any] = {}
    kinds: dict[Any, type] = {}
    for store in stores:
        for key, value in store.entries.items():
            nested = value.store
            if type(nested) not in FLAT or kinds.setdefault(key, type(nested)) is not type(nested):
                return None  # (the pairwise join fails on two store kinds under one key)
            for d in nested.dots():
                placed = where.setdefault(d, key)
                if placed is not key and placed != key:
                    return None
    return where


def _map(stores: list[MapStore], killed: set[Dot], ctx: CausalContext) -> MapStore:
    """Per key, the join of the values under it (each in the class the pairwise join would
    give it: the map's declared value class, else the first delta's), sharing `ctx`."""
    first = stores[0]
    by_key: dict[Any, list[Any]] = {}
    for store in stores:
        for key, value in store.entries.items():
            values = by_key.get(key)
            if values is None:
                by_key[key] = [value]
            else:
                values.append(value)
    out = type(first)(first.value_cls)
    for key, values in by_key.items():
        nested = [value.store for value in values]
        if type(nested[0]) is KeyedDots:
            store: Any = _keyed(nested, killed)
        else:
            store = _fun(nested, killed)
        held = first.entries.get(key)
        cls = type(held) if held is not None else (first.value_cls or type(values[0]))
        out.put(key, cls(store, ctx))
    return out
