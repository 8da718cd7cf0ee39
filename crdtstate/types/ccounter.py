"""Causal counters: the counters an ORMap holds, so that removing a key resets them.

A DotFun where each replica keeps one dot carrying its running total (Almeida et al.'s causal
counter). An increment replaces the replica's dot with a fresh one; a reset drops the dots it
observed. A concurrent increment therefore survives a reset, carrying that replica's running
total (the reset cannot tell which part of the total it had observed); a reset every replica
has seen starts the counter from zero.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from ..errors import DecodeError, InvalidValueError
from .causal import CausalCrdt, fun_from_wire, fun_to_wire
from .clocks import CausalContext
from .counters import _check_amount
from .kernel import DotFun
from .writers import DotClaims, WriterIndex

LIMIT = 2**63 - 1


class CausalCounter(CausalCrdt):
    """Increment, decrement, reset. Stands for a PNCounter inside an ORMap."""

    kind = "ccounter"
    __slots__ = ()
    keyed = False
    grow_only: ClassVar[bool] = False

    @classmethod
    def empty_store(cls) -> DotFun[int]:
        return DotFun()

    @property
    def value(self) -> int:
        return sum(self.store.values.values())

    def increment(self, n: int = 1, *, replica: str) -> Self:
        """Add `n` (any sign unless grow-only). Even `n == 0` makes a write, so that
        `m[k] = 0` puts a zero counter under `k` as it puts a zero in a dict."""
        if _check_amount(n) < 0 and self.grow_only:
            raise InvalidValueError("a GCounter only grows: use a PNCounter to decrement")
        own = [d for d in self.store.values if d.replica == replica]
        total = sum(self.store.values.pop(d) for d in own) + n
        if not -LIMIT <= total <= LIMIT:
            raise InvalidValueError("counter total does not fit in 64 bits")
        dot = self._event(replica)
        self.store.values[dot] = total
        return type(self)(DotFun({dot: total}), CausalContext.of([*own, dot]))

    def decrement(self, n: int = 1, *, replica: str) -> Self:
        return self.increment(-_check_amount(n), replica=replica)

    def reset(self, *, replica: str) -> Self:
        return self._removal(self.store.pop_all(), replica)

    def store_to_wire(self, index: WriterIndex) -> list[Any]:
        return fun_to_wire(self.store, lambda n: n, index)

    @classmethod
    def store_from_wire(cls, obj: Any, claims: DotClaims, depth: int) -> Any:
        return fun_from_wire(obj, claims, cls._total, cls.kind)

    @classmethod
    def _total(cls, obj: Any) -> int:
        if not isinstance(obj, int) or isinstance(obj, bool) or not -LIMIT <= obj <= LIMIT:
            raise DecodeError(f"{cls.kind}: invalid total {obj!r}")
        if cls.grow_only and obj < 0:
            raise DecodeError(f"{cls.kind}: a grow-only total is negative")
        return obj


class CausalGCounter(CausalCounter):
    """Stands for a GCounter inside an ORMap: increments only, reset by key removal."""

    kind = "cgcounter"
    __slots__ = ()
    grow_only = True
