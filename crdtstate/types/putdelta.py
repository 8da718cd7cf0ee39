"""The delta of a map put or delete, built into a store and a context only when first read.

A put's delta waits in the delta buffer until every peer has it: as a map, a store, a register
and a context it is a dozen objects the garbage collector adopts as long-lived, which made it
trace the whole heap again every few thousand puts (a third of a put's cost, measured on the
session-registry workload). Held as (key, dot, write, dots) until a sync encodes or joins it,
it is three. Every read of `store` or `context` builds them once, so it is in every other way
the `ORMap` delta `ORMap.apply` would have returned (its class is a subclass of the map's).
A delete's delta (`ORMap.remove`: no store, a context of the dots it drops) waits the same way.
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
    """Mixed into a subclass of each map class (`put_delta_class`): `_put` holds (key, dot,
    write, *dots) until `store` or `context` is first read (one tuple: one object less for
    the collector than a tuple and a list); a delete's holds only its dots."""

    __slots__ = ()
    _put: tuple[Any, ...]
    plain_cls: Any
    value_cls: Any

    def _build(self) -> None:
        put = self._put
        part = MapStore(self.value_cls)
        if type(put[0]) is Dot:  # a delete (no key is a `Dot`): the context of its dots
            context = CausalContext.of(put)
        else:
            key, dot, write, *dots = put
            context = CausalContext.of(dots)
            part.entries[key] = self.plain_cls._of(DotFun({dot: write}), context)
            part.owner[dot] = key
        _STORE.__set__(self, part)
        _CONTEXT.__set__(self, context)
        self._put = None

    # Unbuilt, `_put` holds the put and the `store` and `context` slots are unset (a lazy
    # delta is made with two attributes set, no more); a copy or a join made by a
    # constructor is built from the start (`_put` None).
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._put = None
        super().__init__(*args, **kwargs)

    @classmethod
    def _of(cls, store: Any, context: CausalContext) -> Any:
        obj = super()._of(store, context)  # type: ignore[misc]
        obj._put = None
        return obj

    @property
    def store(self) -> Any:
        if self._put is not None:
            self._build()
        return _STORE.__get__(self)

    @store.setter
    def store(self, value: Any) -> None:
        _STORE.__set__(self, value)

    @property
    def context(self) -> CausalContext:
        if self._put is not None:
            self._build()
        return _CONTEXT.__get__(self)

    @context.setter
    def context(self, value: CausalContext) -> None:
        _CONTEXT.__set__(self, value)

    def is_bottom(self) -> bool:
        """Never, unbuilt: a put adds a dot (`update` asks on every put)."""
        if self._put is not None:
            return False
        return super().is_bottom()  # type: ignore[misc]


def put_delta_class(cls: type) -> type:
    """The subclass of map class `cls` whose deltas are built lazily (cached per class)."""
    if issubclass(cls, PutDelta):  # a put on a copy of a lazy delta
        return cls
    lazy = LAZY_CLASSES.get(cls)
    if lazy is None:
        name = f"PutDelta[{cls.__name__}]"
        lazy = type(name, (PutDelta, cls), {"__slots__": ("_put",), "__qualname__": name})
        lazy.__module__ = cls.__module__
        LAZY_CLASSES[cls] = lazy
    return lazy


def plain_class(cls: type) -> type:
    """The map class a lazy delta class stands for (any other class: itself)."""
    return cls.__bases__[1] if issubclass(cls, PutDelta) else cls


def removal_delta(cls: type, dots: list[Dot]) -> Any:
    """A lazy delta of map class `cls` dropping `dots` (those a delete observed, and its own
    event dot: never empty, so never bottom)."""
    delta = _new_object(LAZY_CLASSES.get(cls) or put_delta_class(cls))
    delta._savepoint = None
    delta._put = tuple(dots)
    return delta


def put_delta(cls: type, key: Any, dot: Dot, write: Any, dots: list[Dot]) -> Any:
    """A lazy delta of map class `cls`: `key` now holds `write` at `dot`; `dots` its context."""
    delta = _new_object(LAZY_CLASSES.get(cls) or put_delta_class(cls))
    delta._savepoint = None
    delta._put = (key, dot, write, *dots)
    return delta


_new_object = object.__new__
