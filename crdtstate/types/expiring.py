"""Registers and maps whose writes carry a deadline on the hybrid logical clock.

Each write is a dot carrying (l, c, deadline, value): the write's HLC timestamp and the moment
it lapses, `l + ttl` on the same microsecond scale (0: never). A write that has seen earlier
writes replaces them, exactly as in the LWW register, so a renewal is a write with a later
deadline. Writes concurrent with each other all survive, and each is its own lease:

- at time `now`, the *live* writes are those whose deadline is after `now`;
- the register's value is the newest live write (HLC order, replica id tiebreak), None when
  no write is live; an entry of an `ExpiringMap` is present exactly when its register is live;
- so an entry lives until the latest deadline among its concurrent renewals.

Reads take `now` (pure: `value_at(now)`); `value` reads the process clock. `collect(now)` drops
the lapsed writes from the store without a delta and without a tombstone: the causal context,
which every replica keeps anyway, already records that their dots were seen, so a peer's copy
of such a write is dropped by the join rather than brought back, and a copy this replica never
saw is lapsed on arrival (its deadline travels with it) and so is invisible here too. Reads
depend only on the live writes, so collecting early, late or never changes no read.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from ..errors import InvalidValueError
from . import wire
from .causal import CausalCrdt, declared_class, fun_from_wire, fun_to_wire
from .clocks import Dot
from .hlc import HybridLogicalClock, Timestamp, process_clock
from .kernel import DotFun
from .ormap import ORMap
from .registers import _Register
from .values import KeySpec, type_name
from .writers import DotClaims, WriterIndex

NEVER = 0  # the deadline of a write without a time to live
Write = tuple[int, int, int, Any]  # (l, c, deadline, value)


def hlc_reading(clock: HybridLogicalClock) -> int:
    """The clock's current time without making an event: never behind anything it has seen."""
    return max(clock.wall(), clock.l)


def ttl_micros(ttl: float | None) -> int:
    """Seconds (None: never expires) as whole microseconds, the HLC's unit."""
    if ttl is None:
        return 0
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        raise InvalidValueError(f"a time to live is a positive number of seconds, not {ttl!r}")
    return max(1, round(ttl * 1_000_000))


def lapsed(write: Write, now: int) -> bool:
    return write[2] != NEVER and write[2] <= now


class ExpiringRegister(_Register):
    """A last-writer-wins register whose writes lapse at their deadlines (module doc)."""

    kind = "xregister"
    __slots__ = ()
    store: DotFun[Write]

    def _winner(self, now: int) -> tuple[Dot, Write] | None:
        live = [(d, w) for d, w in self.store.values.items() if not lapsed(w, now)]
        if not live:
            return None
        return max(live, key=lambda kv: (kv[1][0], kv[1][1], kv[0].replica))

    def value_at(self, now: int) -> Any:
        won = self._winner(now)
        return None if won is None else won[1][3]

    def alive(self, now: int) -> bool:
        return any(not lapsed(w, now) for w in self.store.values.values())

    def deadline_at(self, now: int) -> int | None:
        """When the register lapses if nobody renews it: the latest live deadline (0: never);
        None when it has already lapsed."""
        live = [w[2] for w in self.store.values.values() if not lapsed(w, now)]
        if not live:
            return None
        return NEVER if NEVER in live else max(live)

    @property
    def value(self) -> Any:
        return self.value_at(hlc_reading(process_clock()))

    def _stamp(self, replica: str, clock: HybridLogicalClock) -> Timestamp:
        """After every write this register holds, lapsed or not, so a renewal always wins."""
        if not self.store.values:
            return clock.now(replica)
        newest = max((w[0], w[1]) for w in self.store.values.values())
        return clock.update(newest, replica)

    def assign(
        self,
        value: Any,
        *,
        replica: str,
        ttl: float | None = None,
        clock: HybridLogicalClock | None = None,
    ) -> Self:
        """Write `value`, lapsing `ttl` seconds after the write's HLC time (None: never)."""
        stored = self.value_spec.check(value)
        span = ttl_micros(ttl)
        stamp = self._stamp(replica, clock or process_clock())
        return self._write((stamp.l, stamp.c, stamp.l + span if span else NEVER, stored), replica)

    def renew(
        self, *, replica: str, ttl: float | None, clock: HybridLogicalClock | None = None
    ) -> Self:
        """Rewrite the live value with a new deadline; bottom if the register has lapsed."""
        clock = clock or process_clock()
        won = self._winner(hlc_reading(clock))
        if won is None:
            return type(self)()
        return self.assign(won[1][3], replica=replica, ttl=ttl, clock=clock)

    def collect(self, now: int) -> int:
        """Drop lapsed writes locally (no delta: see the module doc); how many were dropped."""
        gone = [d for d, w in self.store.values.items() if lapsed(w, now)]
        for d in gone:
            del self.store.values[d]
        return len(gone)

    def store_to_wire(self, index: WriterIndex) -> list[Any]:
        spec = self.value_spec
        return fun_to_wire(self.store, lambda w: [w[0], w[1], w[2], spec.to_wire(w[3])], index)

    @classmethod
    def store_from_wire(cls, obj: Any, claims: DotClaims, depth: int) -> Any:
        spec = cls.value_spec

        def write(raw: Any) -> Write:
            l, c, deadline, value = wire.expect_list(raw, "xregister write", length=4)  # noqa: E741
            return (
                wire.expect_count(l, "xregister l"),
                wire.expect_count(c, "xregister c"),
                wire.expect_count(deadline, "xregister deadline"),
                spec.from_wire(value),
            )

        return fun_from_wire(obj, claims, write, cls.kind)


class ExpiringMap(ORMap):
    """An observed-remove map of expiring registers: an entry is present while it is live.

    `ExpiringMap[str, Session]` declares key and value types (values validated by pydantic).
    """

    kind = "xmap"
    __slots__ = ()
    value_cls: ClassVar[type[CausalCrdt] | None] = ExpiringRegister
    plain_cls = None  # its values expire: written through its handle, never `put`

    def __class_getitem__(cls, params: Any) -> type[ExpiringMap]:
        key, value = params if isinstance(params, tuple) else (Any, params)
        label = f"{type_name(key)}, {type_name(value)}"
        return declared_class(
            ExpiringMap,
            (key, value),
            label,
            key_spec=KeySpec(key),
            value_kind=value,
            value_cls=ExpiringRegister[value],
        )

    def register(self, key: Any) -> ExpiringRegister | None:
        return self.store.entries.get(key)  # type: ignore[return-value]

    def value_at(self, now: int) -> dict[Any, Any]:
        return {
            key: reg.value_at(now)
            for key, reg in self.store.entries.items()
            if reg.alive(now)  # type: ignore[attr-defined]
        }

    def contains_at(self, key: Any, now: int) -> bool:
        reg = self.store.entries.get(key)
        return reg is not None and reg.alive(now)  # type: ignore[attr-defined]

    @property
    def value(self) -> dict[Any, Any]:
        return self.value_at(hlc_reading(process_clock()))

    def __contains__(self, key: object) -> bool:
        return self.contains_at(key, hlc_reading(process_clock()))

    def __len__(self) -> int:
        return len(self.value)

    def collect(self, now: int) -> int:
        """Drop every lapsed write locally, and the keys left without one."""
        dropped = 0
        for key in list(self.store.entries):
            reg = self.store.entries[key]
            dropped += reg.collect(now)  # type: ignore[attr-defined]
            self.store.put(key, reg, ())
        return dropped
