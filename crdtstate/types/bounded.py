"""A bounded counter (Balegas et al., "Extending Eventually Consistent Cloud Databases for
Enforcing Numeric Invariants", SRDS 2015): a counter that never goes below zero, with no
coordination while a replica holds the rights it spends.

The value is `minted - spent`. Rights are the right to decrement: replica i holds
`minted[i] + received[i] - sent[i] - spent[i]`. Every entry below is written by one replica
only (its own minted, spent and wanted counts, and the transfers it sends) and grows, so the
join is a pointwise max. A replica spends or gives away only rights it holds by its own
entries, and the only entries others write for it (transfers to it) add rights, so its own
view of its rights never exceeds the truth: the sum of everyone's rights, which is the value,
stays >= 0 under any interleaving, partition or duplication. `wanted[i]` is how many rights i
has asked for in total; holders see the outstanding part and `grant` it.

`epoch` starts the counter over (a rate-limit window): a state of a higher epoch replaces one
of a lower epoch wholesale, a lexicographic join that is still a semilattice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from ..errors import DecodeError, InsufficientRightsError, InvalidValueError
from . import wire
from .base import Crdt
from .clocks import VersionVector

Pair = tuple[str, str]


def _amount(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidValueError(f"bounded counter amounts are integers >= 0, not {n!r}")
    return n


def _join(mine: dict[Any, int], theirs: Mapping[Any, int]) -> bool:
    changed = False
    for k, n in theirs.items():
        if n > mine.get(k, 0):
            mine[k] = n
            changed = True
    return changed


def _above(mine: Mapping[Any, int], theirs: Mapping[Any, int]) -> dict[Any, int]:
    return {k: n for k, n in mine.items() if n > theirs.get(k, 0)}


class BoundedCounter(Crdt):
    kind = "bcounter"
    __slots__ = ("epoch", "minted", "moved", "spent", "wanted")

    def __init__(
        self,
        epoch: int = 0,
        minted: Mapping[str, int] | None = None,
        spent: Mapping[str, int] | None = None,
        moved: Mapping[Pair, int] | None = None,
        wanted: Mapping[str, int] | None = None,
    ) -> None:
        self.epoch = epoch
        self.minted = {r: n for r, n in (minted or {}).items() if n > 0}
        self.spent = {r: n for r, n in (spent or {}).items() if n > 0}
        self.moved = {p: n for p, n in (moved or {}).items() if n > 0}
        self.wanted = {r: n for r, n in (wanted or {}).items() if n > 0}

    # -- reads ---------------------------------------------------------------------------------

    @property
    def value(self) -> int:
        return sum(self.minted.values()) - sum(self.spent.values())

    def received(self, replica: str) -> int:
        return sum(n for (_, dst), n in self.moved.items() if dst == replica)

    def sent(self, replica: str) -> int:
        return sum(n for (src, _), n in self.moved.items() if src == replica)

    def rights(self, replica: str) -> int:
        """What `replica` may spend or give away, as far as this state knows (never more than
        it truly holds, when `replica` is this state's own replica)."""
        return (
            self.minted.get(replica, 0)
            + self.received(replica)
            - self.sent(replica)
            - self.spent.get(replica, 0)
        )

    def outstanding(self, replica: str) -> int:
        """Rights `replica` asked for and has not received yet."""
        return max(0, self.wanted.get(replica, 0) - self.received(replica))

    # -- mutators (each returns its delta) -------------------------------------------------

    def mint(self, n: int, *, replica: str) -> Self:
        """Create `n` rights at `replica` (an increment)."""
        if _amount(n) == 0:
            return type(self)()
        self.minted[replica] = self.minted.get(replica, 0) + n
        return type(self)(self.epoch, minted={replica: self.minted[replica]})

    def mint_up_to(self, total: int, *, replica: str) -> Self:
        """Make `replica`'s minted total at least `total`: idempotent, for fixed shares."""
        missing = _amount(total) - self.minted.get(replica, 0)
        return self.mint(missing, replica=replica) if missing > 0 else type(self)()

    def spend(self, n: int, *, replica: str) -> Self:
        """Use `n` of `replica`'s rights (a decrement); `InsufficientRightsError` if it lacks
        them, so the value can never go below zero."""
        if _amount(n) > self.rights(replica):
            raise InsufficientRightsError(f"{replica} holds {self.rights(replica)} rights, not {n}")
        if n == 0:
            return type(self)()
        self.spent[replica] = self.spent.get(replica, 0) + n
        return type(self)(self.epoch, spent={replica: self.spent[replica]})

    def transfer(self, n: int, to: str, *, replica: str) -> Self:
        """Give `n` of `replica`'s rights to `to`."""
        if to == replica:
            raise InvalidValueError("a replica cannot transfer rights to itself")
        if _amount(n) > self.rights(replica):
            raise InsufficientRightsError(f"{replica} holds {self.rights(replica)} rights, not {n}")
        if n == 0:
            return type(self)()
        pair = (replica, wire.replica_id(to, "transfer target"))
        self.moved[pair] = self.moved.get(pair, 0) + n
        return type(self)(self.epoch, moved={pair: self.moved[pair]})

    def request(self, n: int, *, replica: str) -> Self:
        """Ask holders for `n` rights beyond those received (replaces an earlier request)."""
        target = self.received(replica) + _amount(n)
        if target <= self.wanted.get(replica, 0):
            return type(self)()
        self.wanted[replica] = target
        return type(self)(self.epoch, wanted={replica: target})

    def grant(self, *, replica: str, keep: int = 0) -> Self:
        """Transfer rights beyond `keep` to the replicas that asked, neediest first."""
        delta = type(self)()
        needy = sorted(
            (r for r in self.wanted if r != replica and self.outstanding(r) > 0),
            key=lambda r: (-self.outstanding(r), r),
        )
        for other in needy:
            give = min(self.outstanding(other), self.rights(replica) - keep)
            if give <= 0:
                break
            delta.merge(self.transfer(give, other, replica=replica))
        return delta

    def advance(self, epoch: int) -> Self:
        """Start epoch `epoch` (greater than the current one) from zero everywhere."""
        if _amount(epoch) <= self.epoch:
            return type(self)()
        self._reset(epoch)
        return type(self)(epoch)

    def _reset(self, epoch: int) -> None:
        self.epoch = epoch
        self.minted, self.spent, self.moved, self.wanted = {}, {}, {}, {}

    # -- the lattice ---------------------------------------------------------------------------

    def merge(self, other: BoundedCounter) -> bool:
        if other.epoch < self.epoch:
            return False
        changed = False
        if other.epoch > self.epoch:
            self._reset(other.epoch)
            changed = True
        for mine, theirs in (
            (self.minted, other.minted),
            (self.spent, other.spent),
            (self.moved, other.moved),
            (self.wanted, other.wanted),
        ):
            changed = _join(mine, theirs) or changed
        return changed

    def copy(self) -> BoundedCounter:
        return BoundedCounter(self.epoch, self.minted, self.spent, self.moved, self.wanted)

    def is_bottom(self) -> bool:
        return self.epoch == 0 and not (self.minted or self.spent or self.moved or self.wanted)

    @property
    def version(self) -> VersionVector:
        """Per replica, the sum of its own entries: it grows with each of its updates."""
        totals: dict[str, int] = {}
        for entries in (self.minted, self.spent, self.wanted):
            for r, n in entries.items():
                totals[r] = totals.get(r, 0) + n
        for (src, _), n in self.moved.items():
            totals[src] = totals.get(src, 0) + n
        return VersionVector(totals)

    def digest(self) -> BoundedCounter:
        return self.copy()  # a handful of integers: the state is its own digest

    def delta_since(self, digest: BoundedCounter) -> BoundedCounter:
        if digest.epoch > self.epoch:
            return BoundedCounter()
        if digest.epoch < self.epoch:
            return self.copy()
        part = BoundedCounter(
            self.epoch,
            _above(self.minted, digest.minted),
            _above(self.spent, digest.spent),
            _above(self.moved, digest.moved),
            _above(self.wanted, digest.wanted),
        )
        return part if part.minted or part.spent or part.moved or part.wanted else BoundedCounter()

    def novel(self, delta: BoundedCounter) -> BoundedCounter | None:
        part = delta.delta_since(self)
        return None if part.is_bottom() else part

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BoundedCounter):
            return self.to_wire() == other.to_wire()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # -- wire ----------------------------------------------------------------------------------

    def to_wire(self) -> list[Any]:
        moved = sorted([src, dst, n] for (src, dst), n in self.moved.items())
        return [
            self.epoch,
            dict(sorted(self.minted.items())),
            dict(sorted(self.spent.items())),
            moved,
            dict(sorted(self.wanted.items())),
        ]

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        epoch, minted, spent, raw_moved, wanted = wire.expect_list(obj, cls.kind, length=5)
        moved: dict[Pair, int] = {}
        for item in wire.expect_list(raw_moved, "bcounter transfers"):
            src, dst, n = wire.expect_list(item, "bcounter transfer", length=3)
            pair = (wire.replica_id(src), wire.replica_id(dst))
            if pair[0] == pair[1] or pair in moved:
                raise DecodeError("bcounter: a transfer to itself or a repeated pair")
            moved[pair] = wire.expect_count(n, "bcounter transfer", minimum=1)
        return cls(
            wire.expect_count(epoch, "bcounter epoch"),
            wire.counts(minted, "bcounter minted"),
            wire.counts(spent, "bcounter spent"),
            moved,
            wire.counts(wanted, "bcounter wanted"),
        )

    @staticmethod
    def digest_to_wire(digest: BoundedCounter) -> list[Any]:
        return digest.to_wire()

    @staticmethod
    def digest_from_wire(obj: Any) -> BoundedCounter:
        return BoundedCounter.from_wire(obj)
