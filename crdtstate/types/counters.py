"""Grow-only and positive-negative counters (one monotone entry per replica)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from ..errors import InvalidValueError
from . import wire
from .base import Crdt, Savepoint
from .clocks import VersionVector


def _check_amount(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool):
        raise InvalidValueError(f"counter amounts are integers, got {type(n).__name__}")
    return n


class GCounter(Crdt):
    """Each replica increments its own entry; the value is the sum; join is pointwise max."""

    kind = "gcounter"
    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        self.counts: dict[str, int] = {r: n for r, n in (counts or {}).items() if n > 0}

    @classmethod
    def _of(cls, counts: dict[str, int]) -> GCounter:
        """Adopt `counts` (positive entries, owned by the caller): the hot-path constructor."""
        counter = cls.__new__(cls)
        counter.counts = counts
        return counter

    @property
    def value(self) -> int:
        return sum(self.counts.values())

    def increment(self, n: int = 1, *, replica: str) -> GCounter:
        if _check_amount(n) < 0:
            raise InvalidValueError("a GCounter only grows: use a PNCounter to decrement")
        if n == 0:
            return GCounter()
        total = self.counts.get(replica, 0) + n
        self.counts[replica] = total
        return GCounter._of({replica: total})

    def decrement(self, n: int = 1, *, replica: str) -> GCounter:
        """Only `n <= 0` is allowed (a negative decrement is an increment)."""
        return self.increment(-_check_amount(n), replica=replica)

    def merge(self, other: GCounter) -> bool:
        changed = False
        for r, n in other.counts.items():
            if n > self.counts.get(r, 0):
                self.counts[r] = n
                changed = True
        return changed

    def copy(self) -> GCounter:
        return GCounter._of(dict(self.counts))

    def savepoint(self) -> Savepoint:
        return CountsSavepoint((self,))

    def is_bottom(self) -> bool:
        return not self.counts

    @property
    def version(self) -> VersionVector:
        return VersionVector(self.counts)

    def digest(self) -> VersionVector:
        return VersionVector(self.counts)

    def delta_since(self, digest: Mapping[str, int]) -> GCounter:
        return GCounter({r: n for r, n in self.counts.items() if n > digest.get(r, 0)})

    def novel(self, delta: GCounter) -> GCounter | None:
        part = delta.delta_since(self.counts)
        return None if part.is_bottom() else part

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GCounter):
            return self.counts == other.counts
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_wire(self) -> dict[str, int]:
        counts = self.counts
        return dict(sorted(counts.items())) if len(counts) > 1 else counts.copy()

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        return cls(wire.counts(obj, "gcounter"))

    @staticmethod
    def digest_to_wire(digest: VersionVector) -> dict[str, int]:
        return digest.to_wire()

    @staticmethod
    def digest_from_wire(obj: Any) -> VersionVector:
        return wire.version_vector(obj, "gcounter digest")


class PNCounter(Crdt):
    """A pair of GCounters: increments and decrements; the value is their difference."""

    kind = "pncounter"
    __slots__ = ("n", "p")

    def __init__(self, p: GCounter | None = None, n: GCounter | None = None) -> None:
        self.p = p if p is not None else GCounter._of({})
        self.n = n if n is not None else GCounter._of({})

    @property
    def value(self) -> int:
        return self.p.value - self.n.value

    def increment(self, n: int = 1, *, replica: str) -> PNCounter:
        if _check_amount(n) < 0:
            return self.decrement(-n, replica=replica)
        return PNCounter(p=self.p.increment(n, replica=replica))

    def decrement(self, n: int = 1, *, replica: str) -> PNCounter:
        if _check_amount(n) < 0:
            return self.increment(-n, replica=replica)
        return PNCounter(n=self.n.increment(n, replica=replica))

    def merge(self, other: PNCounter) -> bool:
        grew_p = self.p.merge(other.p)
        grew_n = self.n.merge(other.n)
        return grew_p or grew_n

    def copy(self) -> PNCounter:
        return PNCounter(self.p.copy(), self.n.copy())

    def savepoint(self) -> Savepoint:
        return CountsSavepoint((self.p, self.n))

    def is_bottom(self) -> bool:
        return self.p.is_bottom() and self.n.is_bottom()

    @property
    def version(self) -> VersionVector:
        return self.p.version.merge(
            {r: self.p.counts.get(r, 0) + c for r, c in self.n.counts.items()}
        )

    def digest(self) -> tuple[VersionVector, VersionVector]:
        return (self.p.digest(), self.n.digest())

    def delta_since(self, digest: tuple[Mapping[str, int], Mapping[str, int]]) -> PNCounter:
        return PNCounter(self.p.delta_since(digest[0]), self.n.delta_since(digest[1]))

    def novel(self, delta: PNCounter) -> PNCounter | None:
        part = delta.delta_since((self.p.counts, self.n.counts))
        return None if part.is_bottom() else part

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PNCounter):
            return self.p == other.p and self.n == other.n
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_wire(self) -> list[dict[str, int]]:
        return [self.p.to_wire(), self.n.to_wire()]

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        p, n = wire.expect_list(obj, "pncounter", length=2)
        return cls(GCounter.from_wire(p), GCounter.from_wire(n))

    @staticmethod
    def digest_to_wire(digest: tuple[VersionVector, VersionVector]) -> list[dict[str, int]]:
        return [digest[0].to_wire(), digest[1].to_wire()]

    @staticmethod
    def digest_from_wire(obj: Any) -> tuple[VersionVector, VersionVector]:
        p, n = wire.expect_list(obj, "pncounter digest", length=2)
        return (wire.version_vector(p), wire.version_vector(n))


class CountsSavepoint(Savepoint):
    """The entries of some GCounters, put back on restore: what an update of a counter can
    change (a copy of the whole counter would cost two more objects per update)."""

    __slots__ = ("_saved",)

    def __init__(self, counters: tuple[GCounter, ...]) -> None:
        self._saved = [(counter, counter.counts.copy()) for counter in counters]

    def restore(self) -> None:
        for counter, counts in self._saved:
            counter.counts = counts
