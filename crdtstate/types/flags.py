"""Enable-wins and disable-wins flags: a keyed dot store whose keys are True and False.

Either mutator drops every dot it has observed, then `enable` adds a dot under True; `disable`
adds one under False in a DWFlag and nothing (but an event dot) in an EWFlag. So a concurrent
enable survives a disable in an EWFlag, and in a DWFlag a concurrent disable's False dot beats
it. Both start disabled (a fresh flag is off).
"""

from __future__ import annotations

from typing import Any, Self

from ..errors import DecodeError
from .causal import CausalCrdt, keyed_from_wire, keyed_to_wire
from .clocks import CausalContext
from .kernel import KeyedDots
from .writers import DotClaims, WriterIndex


class _Flag(CausalCrdt):
    __slots__ = ()
    keyed = False  # a handful of dots: a copy is the cheapest savepoint
    store: KeyedDots[bool]

    def enable(self, *, replica: str) -> Self:
        return self._set(True, replica)

    def _set(self, key: bool, replica: str) -> Self:
        observed = self.store.pop_all()
        dot = self._event(replica)
        self.store.put(key, dot)
        return type(self)(KeyedDots.from_pairs([(key, [dot])]), CausalContext.of([*observed, dot]))

    def store_to_wire(self, index: WriterIndex) -> list[Any]:
        return keyed_to_wire(self.store, lambda key: key, index)

    @classmethod
    def store_from_wire(cls, obj: Any, claims: DotClaims, depth: int) -> KeyedDots[bool]:
        return keyed_from_wire(obj, claims, cls._flag_key, cls.kind)

    @classmethod
    def _flag_key(cls, obj: Any) -> bool:
        if obj is True or (obj is False and cls is DWFlag):
            return obj
        raise DecodeError(f"{cls.kind}: invalid key {obj!r}")


class EWFlag(_Flag):
    kind = "ewflag"
    __slots__ = ()

    @property
    def value(self) -> bool:
        return True in self.store.entries

    def disable(self, *, replica: str) -> Self:
        return self._removal(self.store.pop_all(), replica)


class DWFlag(_Flag):
    kind = "dwflag"
    __slots__ = ()

    @property
    def value(self) -> bool:
        return True in self.store.entries and False not in self.store.entries

    def disable(self, *, replica: str) -> Self:
        return self._set(False, replica)
