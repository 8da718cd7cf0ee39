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
    delete's `_write` is None and `_observed` holds every dot it drops. Slots, not a tuple:
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
        observed = self._observed
        dot = self._dot
        if self._write is None:  # a delete: the context of the dots it drops
            context = CausalContext.of(observed)
        else:
            if observed is None:
                dots: Any = (dot,)
            elif type(observed) is Dot:
                dots = (observed, dot)
            else:
                dots = (*observed, dot)
            context = CausalContext.of(dots)
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


def removal_delta(cls: type, dots: list[Dot]) -> Any:
    """A lazy delta of map class `cls` dropping `dots` (those a delete observed, and its own
    event dot, the last: never empty, so never bottom)."""
    delta = _new_object(LAZY_CLASSES.get(cls) or put_delta_class(cls))
    delta._savepoint = None
    delta._dot = dots[-1]
    delta._key = None
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
