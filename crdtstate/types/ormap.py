"""Observed-remove map: keys to nested causal values that share the map's causal context.

The map's store (`MapStore`, Almeida et al.'s DotMap<K, V>) holds each key's value store; all
values draw dots from, and record them in, the one context of the map. Removing a key drops
the dots it observed (with an event dot), which resets the value: updates the remover had not
seen survive (observed reset). Counters are held as causal counters for that reason
(`ccounter.py`); plain values as last-writer-wins registers. `ORMap[str, PNCounter]` (or
`ORMap(value=PNCounter)`) declares the key and value kinds, nested to any depth.
"""

from __future__ import annotations

import itertools
import time as _time
from collections.abc import Callable
from typing import Any, ClassVar, Self

from ..errors import DecodeError, InvalidValueError
from . import hlc, wire
from .base import KINDS, Crdt
from .causal import MAX_DEPTH, CausalCrdt, declared_class
from .ccounter import CausalCounter, CausalGCounter
from .clocks import CausalContext, Dot
from .counters import GCounter, PNCounter
from .hlc import HybridLogicalClock
from .kernel import DotFun
from .mapstore import MapStore
from .putdelta import LAZY_CLASSES, put_delta, put_delta_class, removal_delta
from .registers import LWWRegister
from .snapshots import ONLY_CACHE, MapSnapshot, _refcount, _weakrefcount
from .values import KeySpec, sort_key, type_name
from .writers import DotClaims, WriterIndex

ANY_KEY = KeySpec()
_new_tuple = tuple.__new__
_new_object = object.__new__


def embedded_class(kind: Any) -> type[CausalCrdt]:
    """The causal class holding values declared as `kind` inside a map."""
    if kind is GCounter:
        return CausalGCounter
    if kind is PNCounter:
        return CausalCounter
    if isinstance(kind, type) and issubclass(kind, CausalCrdt):
        return kind
    if isinstance(kind, type) and issubclass(kind, Crdt):
        raise InvalidValueError(f"{kind.__name__} cannot be an ORMap value")
    return LWWRegister[kind]


class ORMap(CausalCrdt):
    kind = "ormap"
    __slots__ = ()
    store: MapStore
    key_spec: ClassVar[KeySpec] = ANY_KEY
    value_kind: ClassVar[Any] = None  # as declared (PNCounter); None: any kind, from the wire
    value_cls: ClassVar[type[CausalCrdt] | None] = None  # as held (CausalCounter)
    # the register class of plain values (`put`), None when the values are CRDTs
    plain_cls: ClassVar[type[LWWRegister] | None] = LWWRegister

    def __new__(cls, *args: Any, key: Any = None, value: Any = None, **kwargs: Any) -> Any:
        if key is None and value is None:
            return super().__new__(cls)
        return super().__new__(cls[Any if key is None else key, Any if value is None else value])

    def __init__(
        self,
        store: MapStore | None = None,
        context: CausalContext | None = None,
        *,
        key: Any = None,
        value: Any = None,
    ) -> None:
        super().__init__(store, context)
        self.store.bind(self.context)

    def __class_getitem__(cls, params: Any) -> type[ORMap]:
        key, value = params if isinstance(params, tuple) else (Any, params)
        held = embedded_class(value)
        label = f"{type_name(key)}, {type_name(value)}"
        plain = held if issubclass(held, LWWRegister) else None
        return declared_class(
            ORMap,
            (key, value),
            label,
            key_spec=KeySpec(key),
            value_kind=value,
            value_cls=held,
            plain_cls=plain,
        )

    @classmethod
    def empty_store(cls) -> MapStore:
        return MapStore(cls.value_cls)

    def bind(self, ctx: CausalContext) -> None:
        self.context = ctx
        self.store.bind(ctx)

    def copy_into(self, ctx: CausalContext) -> Self:
        return type(self)(self.store.copy_into(ctx), ctx)

    @property
    def value(self) -> MapSnapshot:
        """An immutable mapping key -> nested value, equal to the dict of them; O(keys
        changed since the last read) to produce (see `crdtstate.types.snapshots`)."""
        store = self.store
        cache = store._cache
        if cache is not None:  # `cache.read_lazy(store)`'s common case, inline
            snapshot = cache._snapshot
            if snapshot is not None:
                return snapshot  # type: ignore[return-value]
            snapshot = cache._pending
            if snapshot is None:
                snapshot = _new_object(MapSnapshot)
                snapshot._map = None
                snapshot._source = store
                cache._pending = snapshot
            return snapshot  # (a pending one is held and current, or held by nobody)
        return store.cache.read_lazy(store)

    def __contains__(self, key: object) -> bool:
        return key in self.store.entries

    def __len__(self) -> int:
        return len(self.store.entries)

    def get(self, key: Any) -> CausalCrdt | None:
        """The nested CRDT under `key` (read it, do not mutate it: use `apply`)."""
        return self.store.entries.get(key)

    def new_value(self) -> CausalCrdt:
        """An empty value of the declared kind, sharing this map's context."""
        cls = self.value_cls or LWWRegister
        return cls(None, self.context)

    def apply(self, key: Any, mutate: Callable[[Any], CausalCrdt]) -> Self:
        """Run `mutate` on the value under `key` (an empty one if absent); the map's delta.

        `mutate` calls the nested value's own mutator, e.g. `lambda c: c.increment(1, replica=r)`.
        """
        key = self.key_spec.check(key)
        self._touch(key)
        value = self.store.entries.get(key)
        return self.adopt(key, value if value is not None else self.new_value(), mutate)

    def adopt(self, key: Any, value: CausalCrdt, mutate: Callable[[Any], CausalCrdt]) -> Self:
        """Mutate `value` (held, or new, under `key`) and wrap its delta as the map's delta."""
        delta = mutate(value)
        self.store.put(key, value, delta.store.dots())
        part = MapStore(self.value_cls)
        if not delta.store.is_empty():
            part.entries[key] = delta  # it already shares `delta.context`, the map delta's
            part.index(key, delta.store.dots())  # `holds` on the delta reads the index
        return type(self)._of(part, delta.context)

    def put(
        self, key: Any, value: Any, *, replica: str, clock: HybridLogicalClock | None = None
    ) -> Self:
        """Make `key` hold the plain `value` (a map of registers): the map's delta.

        `apply(key, lambda r: r.assign(value, replica=replica))` in fewer steps, for `m[k] = v`
        on every session-registry update: the register is written in place and the delta is
        built only when first read (`crdtstate.types.putdelta`). `InvalidValueError` if the
        map holds CRDTs, or another kind under `key` (an undeclared map's value from a peer)."""
        cls = self.plain_cls
        if cls is None:
            raise InvalidValueError(f"{type(self).__name__} holds CRDTs: use apply")
        key = self.key_spec.check(key)
        held = self.store.entries.get(key)
        if held is not None and type(held) is not cls:
            raise InvalidValueError(f"the value under {key!r} is a {held.kind}, not plain")
        return self.put_checked(key, held, value, replica, clock)

    def put_checked(
        self, key: Any, held: Any, value: Any, replica: str, clock: HybridLogicalClock | None
    ) -> Self:
        """`put` once `key` is checked and `held` is what it holds: None or a `plain_cls`
        register (`MapHandle` has checked both already).

        Every session-registry update comes here, so the common case (a new key, or a key
        holding one write, and this replica's dots in order) is written out in one frame:
        `LWWRegister.write_in_place` (with the clock's common tick), `MapStore.keep_write`
        and `put_delta`, inline. Anything else goes through them. Property tests replay
        random histories both ways (tests/crdtstate/test_map_fast_paths.py)."""
        cls = self.plain_cls
        stored = cls.value_spec.check(value)  # type: ignore[union-attr]
        store = self.store
        cache = store._cache
        # `cache.settle()`'s test, inline: the value handed out last is mostly dropped unread,
        # and then kept as it is (`snapshots.held_elsewhere`)
        if (
            cache is not None
            and cache._pending is not None
            and (_refcount(cache._pending) > ONLY_CACHE or _weakrefcount(cache._pending))
        ):
            cache.settle()
        savepoint = self._savepoint
        if savepoint is not None:  # `_touch`, keeping the register's writes, not a copy
            savepoint.touch_written(key, held)
        clock = clock or hlc._PROCESS_CLOCK
        context = self.context
        if held is None:
            held = cls._of(DotFun(), context)  # type: ignore[union-attr]
            values = None
        else:
            values = held.store.values
            if len(values) != 1:
                return self._put_general(key, held, stored, replica, clock)
        if replica in context.cloud:
            return self._put_general(key, held, stored, replica, clock)
        # `write_in_place`: the stamp after the write seen last, and the next dot
        wall = clock.wall
        physical = _time.time_ns() // 1000 if wall is hlc.wall_clock_micros else wall()
        if values is None:
            observed = None
            if physical > clock.l:  # `tick`'s common case: the wall moved on
                clock.l = physical
                clock.c = 0
                l, c = physical, 0  # noqa: E741 - the paper's name
            else:
                l, c = clock.tick_at(physical)  # noqa: E741
        else:
            ((observed, last),) = values.items()
            if physical > last[0] and physical > clock.l:  # `tick`'s common case
                clock.l = physical
                clock.c = 0
                l, c = physical, 0  # noqa: E741
            else:
                l, c = clock.tick_at(physical, last)  # noqa: E741
        counter = context.vector.get(replica, 0) + 1
        context.vector[replica] = counter
        dot = _new_tuple(Dot, (replica, counter))
        write = (l, c, stored)
        held.store.values = {dot: write}  # a new dict: a savepoint keeps the old one
        # `store.keep_write(key, held, dot)` (the cache was settled above)
        if cache is not None and cache._map is not None:
            cache.touch(key)
        store.entries[key] = held
        owner = store.owner
        owner[dot] = key
        if observed is not None:  # the overwritten write's dot: its index entry, now stale
            owner.pop(observed, None)  # (else kept until the index is rebuilt, whole)
        elif len(owner) > store._rebuild_at:
            store.index(key, ())
        # `put_delta`, inline: the lazy delta, built when first read
        delta = _new_object(LAZY_CLASSES.get(type(self)) or put_delta_class(type(self)))
        delta._savepoint = None
        delta._dot = dot
        delta._key = key
        delta._write = write
        delta._observed = observed
        return delta

    def _put_general(
        self, key: Any, held: Any, stored: Any, replica: str, clock: HybridLogicalClock
    ) -> Self:
        """The rest of `put_checked`, step by step (concurrent writes, dots out of order)."""
        dot, write, dots = held.write_in_place(stored, replica, clock)
        self.store.keep_write(key, held, dot)
        observed = dots[0] if len(dots) == 2 else tuple(dots[:-1])  # (the last is `dot`)
        return put_delta(type(self), key, dot, write, observed)  # built when first read

    def _touch(self, key: Any) -> None:
        """Before any change under `key` (see `CausalCrdt._touch`): a lazy value still
        held is computed first (`MapStore.settle`)."""
        cache = self.store._cache
        if cache is not None and cache._pending is not None:
            cache.settle()
        if self._savepoint is not None:
            self._savepoint.touch(key)

    def remove(self, key: Any, *, replica: str) -> Self:
        """Reset the value under `key`: drop what this replica has observed of it."""
        store = self.store
        held = store.entries.get(key)
        if held is not None and type(held) is self.plain_cls and held.store.values:
            return self._remove_plain(key, held, replica)
        if held is not None and type(held) is self.plain_cls and self._savepoint is not None:
            # a register's store is replaced below, not changed: keep its writes, not a copy
            self.store.settle()
            self._savepoint.touch_written(key, held)
        else:
            self._touch(key)
        value = self.store.pop(key)
        if value is None:
            return type(self)._of(MapStore(self.value_cls), CausalContext())
        observed = list(value.store.dots())
        value.store = type(value).empty_store()  # a handle still pointing at it starts empty
        if not observed:
            return type(self)._of(MapStore(self.value_cls), CausalContext())
        observed.append(self.context.take_next(replica))
        return removal_delta(type(self), observed, key)  # built when first read

    def _remove_plain(self, key: Any, held: Any, replica: str) -> Self:
        """`remove` of a plain value (a register holding writes), every session-registry
        delete, in one frame: the settle, the savepoint's touch, `MapStore.pop`, the next
        dot and the lazy delta as `remove` does them step by step."""
        store = self.store
        cache = store._cache
        if cache is not None:
            if cache._pending is not None:
                cache.settle()  # (computes the value handed out last only if still held)
            if cache._map is not None:
                cache.touch(key)  # (`MapStore.pop`'s)
        savepoint = self._savepoint
        if savepoint is not None:  # the register's writes are replaced below: keep them
            savepoint.touch_written(key, held)
        del store.entries[key]
        observed = list(held.store.values)
        owner = store.owner
        for d in observed:  # their index entries, now stale (else kept until a rebuild)
            owner.pop(d, None)
        held.store = DotFun()  # a handle still pointing at it starts empty
        context = self.context
        if replica in context.cloud:
            observed.append(context.take_next(replica))
        else:  # `take_next`'s common case
            counter = context.vector.get(replica, 0) + 1
            context.vector[replica] = counter
            observed.append(_new_tuple(Dot, (replica, counter)))
        return removal_delta(type(self), observed, key)  # built when first read

    def clear(self, *, replica: str) -> Self:
        observed: list[Dot] = []
        for key in list(self.store.entries):
            self._touch(key)
            value = self.store.pop(key)
            assert value is not None
            observed.extend(value.store.dots())
            value.store = type(value).empty_store()
        return self._removal(observed, replica)

    def store_to_wire(self, index: WriterIndex) -> list[Any]:
        """[kinds, entries]: the value kinds once, sorted, and entries [key, kind index,
        value store] in key order (a kind name in every entry was a tenth of a map's bytes)."""
        kinds = sorted({value.kind for value in self.store.entries.values()})
        position = {kind: i for i, kind in enumerate(kinds)}
        entries = [
            [self.key_spec.to_wire(key), position[value.kind], value.store_to_wire(index)]
            for key, value in self.store.entries.items()
        ]
        if len(entries) > 1:  # (a put's delta holds one key: no sort key to pack)
            entries.sort(key=lambda entry: sort_key(entry[0]))
        return [kinds, entries]

    @classmethod
    def store_from_wire(cls, obj: Any, claims: DotClaims, depth: int) -> Any:
        if depth >= MAX_DEPTH:
            raise DecodeError(f"ormap: nested deeper than {MAX_DEPTH}")
        if claims.names is None:  # format 1: the kind in every entry
            kinds, raw_entries = None, obj
        else:
            raw_kinds, raw_entries = wire.expect_list(obj, "ormap store", length=2)
            kinds = [cls._held_class(tag) for tag in wire.expect_list(raw_kinds, "ormap kinds")]
            if any(a.kind >= b.kind for a, b in itertools.pairwise(kinds)):
                raise DecodeError("ormap: value kinds are repeated or out of order")
        store = MapStore(cls.value_cls)
        used: set[int] = set()
        for entry in wire.expect_list(raw_entries, "ormap entries"):
            raw_key, tag, raw_store = wire.expect_list(entry, "ormap entry", length=3)
            key = cls.key_spec.from_wire(raw_key)
            if key in store.entries:
                raise DecodeError("ormap: repeated key")
            if kinds is None:
                held = cls._held_class(tag)
            else:
                position = wire.expect_count(tag, "ormap kind index")
                if position >= len(kinds):
                    raise DecodeError(f"ormap: kind {position} is not in the table")
                held = kinds[position]
                used.add(position)
            nested = held.store_from_wire(raw_store, claims, depth + 1)
            if nested.is_empty():
                raise DecodeError("ormap: a key with an empty value")
            store.put(key, held(nested, claims.ctx))
        if kinds is not None and len(used) != len(kinds):
            raise DecodeError("ormap: a value kind no entry uses")
        return store

    @classmethod
    def _held_class(cls, tag: Any) -> type[CausalCrdt]:
        if cls.value_cls is not None:
            if tag != cls.value_cls.kind:
                raise DecodeError(f"ormap: expected {cls.value_cls.kind} values, got {tag!r}")
            return cls.value_cls
        held = KINDS.get(tag) if isinstance(tag, str) else None
        if held is None or not issubclass(held, CausalCrdt):
            raise DecodeError(f"ormap: {tag!r} is not a kind a map can hold")
        return held
