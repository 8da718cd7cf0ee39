"""The delta of a map put or delete, built into a store and a context only when first read.

A put's delta waits in the delta buffer until every peer has it: as a map, a store, a register
and a context it is a dozen objects the garbage collector adopts as long-lived, which made it
trace the whole heap again every few thousand puts (a third of a put's cost, measured on the
session-registry workload). Held as key, dot, write and the dot it replaced until a sync
encodes or joins it, it is one object. Every read of `store` or `context` builds them once,
so it is in every other way the `ORMap` delta `ORMap.apply` would have returned (its class is
a subclass of the map's). A delete's delta (`ORMap.remove`: no store, a context of the dots
it drops) waits the same way.
"""

from __future__ import annotations

from typing import Any

from msgpack import packb

from .causal import CausalCrdt
from .clocks import CausalContext, Dot
from .kernel import DotFun
from .mapstore import MapStore

_STORE = CausalCrdt.__dict__["store"]  # the slots the properties below stand in front of
_CONTEXT = CausalCrdt.__dict__["context"]
LAZY_CLASSES: dict[type, type] = {}


class PutDelta:
    """Mixed into a subclass of each map class (`put_delta_class`), whose slots hold the put
    until `store` or `context` is first read: `_dot` (None once built), `_key`, `_write`
    and `_observed`, the dot the write replaced (one `Dot`, a tuple of them, or None). A
    delete's `_write` is None, `_observed` holds every dot it drops and `_key` the key it
    deleted (None for a delete made otherwise). Slots, not a tuple:
    one object less per update for the collector to count and trace."""

    __slots__ = ()
    _dot: Dot | None
    _key: Any
    _write: Any
    _observed: Any
    plain_cls: Any
    value_cls: Any

    def _build(self) -> None:
        part = MapStore(self.value_cls)
        dot = self._dot
        if self._write is None:  # a delete: the context of the dots it drops
            context = CausalContext.of(self._observed)
        else:
            context = CausalContext.of((*dropped_by(self), dot))
            part.entries[self._key] = self.plain_cls._of(DotFun({dot: self._write}), context)
            part.owner[dot] = self._key
        _STORE.__set__(self, part)
        _CONTEXT.__set__(self, context)
        self._dot = self._key = self._write = self._observed = None

    # Unbuilt, `_dot` holds the put's dot and the `store` and `context` slots are unset (a
    # lazy delta is made with its own slots set, no more); a copy or a join made by a
    # constructor is built from the start (`_dot` None).
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._dot = None
        super().__init__(*args, **kwargs)

    @classmethod
    def _of(cls, store: Any, context: CausalContext) -> Any:
        obj = super()._of(store, context)  # type: ignore[misc]
        obj._dot = None
        return obj

    @property
    def store(self) -> Any:
        if self._dot is not None:
            self._build()
        return _STORE.__get__(self)

    @store.setter
    def store(self, value: Any) -> None:
        _STORE.__set__(self, value)

    @property
    def context(self) -> CausalContext:
        if self._dot is not None:
            self._build()
        return _CONTEXT.__get__(self)

    @context.setter
    def context(self, value: CausalContext) -> None:
        _CONTEXT.__set__(self, value)

    def is_bottom(self) -> bool:
        """Never, unbuilt: a put adds a dot (`update` asks on every put)."""
        if self._dot is not None:
            return False
        return super().is_bottom()  # type: ignore[misc]

    @classmethod
    def join(cls, deltas: Any) -> Any:
        """`join_puts` of the unbuilt deltas of this class among `deltas` (a push's, a buffer
        fold's), the others (a fold, a peer's delta, a put already read) merged into that,
        one by one; the map's join, which builds each, when fewer than two are unbuilt.

        Under overload a push's join starts at the buffer's fold: joined with the map's join
        every put after it was built, a dozen objects each (a fifth of a node's CPU)."""
        if len(deltas) > 1:
            unbuilt = [d for d in deltas if type(d) is cls and d._dot is not None]
            if len(unbuilt) > 1:
                joined = join_puts(unbuilt)
                if len(unbuilt) < len(deltas):
                    for delta in deltas:
                        if type(delta) is not cls or delta._dot is None:
                            joined.merge(delta)
                return joined
        return super().join(deltas)  # type: ignore[misc]


def join_puts(deltas: Any) -> Any:
    """The join of unbuilt put and delete deltas of one class, without building them; None if
    one is of another class or built.

    Each delta's context is its own dot and those it observed, and its store holds at most
    its own write: so a write survives the join unless another delta observed it (the n-ary
    join's rule, `bulkjoin`), and the context is every dot. One pass, a dict entry per key
    written: folding the buffer of a replica no peer acknowledges built every delta first
    (a dozen objects each), two thirds of each put's cost on a map of 1,000 keys.
    """
    cls = type(deltas[0])
    dots: list[Dot] = []
    observed_all: set[Dot] = set()
    writes: list[tuple[Any, Dot, Any]] = []
    for delta in deltas:
        if type(delta) is not cls:
            return None
        own = delta._dot
        if own is None:
            return None
        dropped = dropped_by(delta)
        dots += dropped
        observed_all.update(dropped)
        if delta._write is not None:
            dots.append(own)
            writes.append((delta._key, own, delta._write))
    context = CausalContext.of(dots)
    store = MapStore(cls.value_cls)
    entries, owner, register = store.entries, store.owner, cls.plain_cls
    for key, dot, write in writes:
        if dot in observed_all:
            continue
        held = entries.get(key)
        if held is None:
            entries[key] = register._of(DotFun({dot: write}), context)
        else:  # writes to one key that none observed: concurrent ones (`_put_general`)
            held.store.values[dot] = write
        owner[dot] = key
    store._rebuild_at = 2 * len(owner) + 1024
    return cls._of(store, context)


# about the bytes a dot of another replica costs in a delta frame's context (a range of its
# own, mostly: this replica's dots run on) and a write's own envelope (its stamp, its dot, list
# headers); `absorb_puts` counts them
DOT_BYTES = 20
WRITE_BYTES = 24
# a fold's absorbed writes not yet in its map's store: key -> (dot, write, bytes counted)
FlatWrites = dict[Any, tuple[Dot, Any, int]]


def absorb_puts(
    target: Any,
    deltas: Any,
    unmerged: set[Dot] | None = None,
    sizes: dict[Dot, int] | None = None,
    flat: FlatWrites | None = None,
) -> tuple[int, int] | None:
    """Join unbuilt put and delete deltas of `target`'s map class into `target` in place (a
    buffer fold's own delta: its registers and context are its own), without building
    them: about the bytes that adds to its encoding (less when writes it held are
    overwritten), and how many were absorbed (from the first: one that drops or writes a
    value that is not a plain register, an undeclared map's nested one, stops it, and so
    does a second write under one key in `flat`). None, with `target` unchanged, if one is of
    another class or built, or if `target`'s value was read (its cache is kept).

    `unmerged`: the dots `target`'s context lacks so far, which it gains here (left to the
    caller to merge, all at once: `merge_dots`, when the fold is next read); else they are
    merged now. `flat`: the writes absorbed so far and not yet in `target`'s store, key ->
    (dot, write, bytes counted), which the new ones join (left to the caller to put in the
    store: `materialize`); else they are put there now. `sizes`: the bytes counted for each
    write in `target`'s store, taken off when one is dropped, so a fold's size follows its
    keys, not its updates. A write counts its value's encoded size and `WRITE_BYTES`, a dot
    of another replica `DOT_BYTES`.

    A buffer that nobody acknowledges folds its oldest half every `max_groups / 2` updates
    into the previous fold: joining them first, then that join into the fold, and encoding
    it to measure it cost more than the updates themselves (twice a put's cost on a map of
    1,000 keys); this is a dict operation or two per dot. The dots a put overwrote are
    scattered among other replicas' (a map written by many): merged range by range into a
    fold's growing context they were a third of a fold on a map of 100,000 keys. A write is
    kept flat, one tuple, not a register, its store and their dicts: on a map of 1M keys,
    where every put a fold absorbs is to a key new to it, those objects and the collections
    that traced them were half of the fold's cost.
    """
    lazy = LAZY_CLASSES.get(plain_class(type(target)))
    if lazy is None or any(type(d) is not lazy or d._dot is None for d in deltas):
        return None
    store = target.store
    if store._cache is not None:
        return None
    context = target.context
    seen = context.contains  # (without the unmerged dots)
    pending: set[Dot] = set() if unmerged is None else unmerged
    writes: FlatWrites = {} if flat is None else flat
    entries, owner = store.entries, store.owner
    register = lazy.plain_cls
    to_wire = register.value_spec.to_wire
    counted: dict[Dot, int] = {} if sizes is None else sizes
    size = 0
    done = 0
    for delta in deltas:
        own, write, key = delta._dot, delta._write, delta._key
        dropped = dropped_by(delta)
        # a local put or delete drops only dots its key held: of a write kept flat under it,
        # or of a value in the store, which must be a register (else, an undeclared map's
        # nested value from a peer, it and the rest are left to the caller)
        kept = writes.get(key) if key is not None else None
        if kept is not None and kept[0] not in dropped:
            if write is not None:
                break  # a second write under one key (one of ours, dropped by a peer)
            kept = None
        if key is None and writes:
            break  # (a delete made without its key: which kept writes it drops is unknown)
        holders = []
        foreign = False
        for dot in dropped if owner else ():  # (no index while every write absorbed is flat)
            held_key = owner.get(dot)
            held = None if held_key is None else entries.get(held_key)
            if held is not None:
                if type(held) is not register:
                    foreign = True
                    break
                holders.append((dot, held_key, held))
        if write is not None and entries and not foreign:
            held = entries.get(key)
            foreign = held is not None and type(held) is not register
        if foreign:
            break
        # the join's rule: a dot it has seen and does not hold is dropped
        if kept is not None:
            del writes[key]
            size -= kept[2]
        for dot, held_key, held in holders:
            del owner[dot]
            values = held.store.values
            if values.pop(dot, None) is not None:
                size -= counted.pop(dot, 0)
                if not values:
                    del entries[held_key]
        for dot in dropped:
            if dot[0] != own[0]:
                size += DOT_BYTES
        pending.update(dropped)
        done += 1
        if write is None or own in pending or seen(own):
            continue  # (a write seen and dropped stays dropped)
        bytes_ = WRITE_BYTES + len(packb(to_wire(write[2]))) + len(str(key))
        writes[key] = (own, write, bytes_)
        pending.add(own)
        size += bytes_
    if flat is None:
        materialize(target, writes, counted)
    if unmerged is None:
        merge_dots(context, pending)
    return size, done


def materialize(target: Any, writes: FlatWrites, sizes: dict[Dot, int]) -> None:
    """Put the writes `absorb_puts` kept flat into `target`'s store (registers sharing its
    context), their counted bytes into `sizes`, and empty `writes`: before the fold is read
    or joined by the map's join."""
    store = target.store
    entries, owner = store.entries, store.owner
    register, context = target.plain_cls, target.context
    for key, (dot, write, bytes_) in writes.items():
        held = entries.get(key)
        if held is None:
            entries[key] = register._of(DotFun({dot: write}), context)
        else:  # (a write of a peer's under the key, joined into the store: concurrent)
            held.store.values[dot] = write
        owner[dot] = key
        sizes[dot] = bytes_
    writes.clear()


def merge_dots(context: CausalContext, dots: Any) -> None:
    """Add `dots` to `context` in place, in one pass over its ranges (`CausalContext.union`),
    not range by range: for the many scattered dots a fold's absorbed puts leave."""
    joined = CausalContext.union([context, CausalContext.of(dots)])
    context.vector, context.cloud = joined.vector, joined.cloud


def dropped_by(delta: Any) -> tuple[Dot, ...]:
    """The dots an unbuilt delta has seen and does not hold: those its put replaced (none,
    one, or several concurrent ones), or those its delete drops (with its own event dot, which
    no store holds)."""
    observed = delta._observed
    if observed is None:
        return ()
    return (observed,) if type(observed) is Dot else observed


def is_unbuilt(delta: Any) -> bool:
    """Whether `delta` is a lazy put or delete not yet built (False for None)."""
    return isinstance(delta, PutDelta) and delta._dot is not None


def put_delta_class(cls: type) -> type:
    """The subclass of map class `cls` whose deltas are built lazily (cached per class)."""
    if issubclass(cls, PutDelta):  # a put on a copy of a lazy delta
        return cls
    lazy = LAZY_CLASSES.get(cls)
    if lazy is None:
        name = f"PutDelta[{cls.__name__}]"
        lazy = type(
            name,
            (PutDelta, cls),
            {"__slots__": ("_dot", "_key", "_observed", "_write"), "__qualname__": name},
        )
        lazy.__module__ = cls.__module__
        LAZY_CLASSES[cls] = lazy
    return lazy


def plain_class(cls: type) -> type:
    """The map class a lazy delta class stands for (any other class: itself)."""
    return cls.__bases__[1] if issubclass(cls, PutDelta) else cls


def removal_delta(cls: type, dots: list[Dot], key: Any = None) -> Any:
    """A lazy delta of map class `cls` dropping `dots` (those a delete of `key` observed, and
    its own event dot, the last: never empty, so never bottom). The key is not part of the
    delta (its context is); a fold absorbing it looks the dots up under it."""
    delta = _new_object(LAZY_CLASSES.get(cls) or put_delta_class(cls))
    delta._savepoint = None
    delta._dot = dots[-1]
    delta._key = key
    delta._write = None
    delta._observed = tuple(dots)
    return delta


def put_delta(cls: type, key: Any, dot: Dot, write: Any, observed: Any) -> Any:
    """A lazy delta of map class `cls`: `key` now holds `write` at `dot`, which replaced
    `observed` (a `Dot`, a tuple of them, or None)."""
    delta = _new_object(LAZY_CLASSES.get(cls) or put_delta_class(cls))
    delta._savepoint = None
    delta._dot = dot
    delta._key = key
    delta._write = write
    delta._observed = observed
    return delta


_new_object = object.__new__
