"""Multi-value and last-writer-wins registers: a DotFun of writes, one dot per write.

An assignment drops every write it has observed and adds its own, so causally later writes
replace earlier ones and only concurrent writes coexist. The MVRegister shows them all; the
LWWRegister picks the one with the largest hybrid-logical-clock timestamp (ties broken by
replica id), so a write that has seen another always wins even if the wall clock disagrees.
`LWWRegister[Config]` / `MVRegister[int]` declare the value type, validated by pydantic.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from . import wire
from .causal import CausalCrdt, declared_class, fun_from_wire, fun_to_wire
from .clocks import CausalContext, Dot
from .hlc import HybridLogicalClock, Timestamp, process_clock
from .kernel import DotFun
from .values import ValueSpec, sort_key, type_name
from .writers import DotClaims, WriterIndex

ANY = ValueSpec()
_new_tuple = tuple.__new__


class _Register(CausalCrdt):
    __slots__ = ()
    keyed = False  # usually one write: a copy is the cheapest savepoint
    value_spec: ClassVar[ValueSpec] = ANY

    def __class_getitem__(cls, tp: Any) -> type[Self]:
        return declared_class(cls, tp, type_name(tp), value_spec=ValueSpec(tp))

    @classmethod
    def empty_store(cls) -> DotFun[Any]:
        return DotFun()

    def copy_into(self, ctx: CausalContext) -> Self:
        """A copy sharing `ctx` (what a map's savepoint keeps of a key on every update)."""
        return type(self)._of(DotFun(dict(self.store.values)), ctx)

    def _write(self, stored: Any, replica: str) -> Self:
        observed = self.store.pop_all()
        dot = self._event(replica)
        self.store.values[dot] = stored
        return type(self)._of(DotFun({dot: stored}), CausalContext.of([*observed, dot]))

    def clear(self, *, replica: str) -> Self:
        return self._removal(self.store.pop_all(), replica)


class MVRegister(_Register):
    kind = "mvregister"
    __slots__ = ()

    @property
    def value(self) -> tuple[Any, ...]:
        """The concurrent values, distinct, in a canonical order (a tuple: values such as
        dicts or models need not be hashable)."""
        values = list(self.store.values.values())
        if len(values) <= 1:
            return tuple(values)
        keyed = {sort_key(self.value_spec.to_wire(v)): v for v in values}
        return tuple(keyed[k] for k in sorted(keyed))

    def assign(self, value: Any, *, replica: str) -> Self:
        return self._write(self.value_spec.check(value), replica)

    def store_to_wire(self, index: WriterIndex) -> list[Any]:
        return fun_to_wire(self.store, self.value_spec.to_wire, index)

    @classmethod
    def store_from_wire(cls, obj: Any, claims: DotClaims, depth: int) -> Any:
        return fun_from_wire(obj, claims, cls.value_spec.from_wire, cls.kind)


class LWWRegister(_Register):
    kind = "lwwregister"
    __slots__ = ()

    def _winner(self) -> tuple[Dot, tuple[int, int, Any]] | None:
        """The write with the largest (l, c, replica), then the largest encoded value. The
        values are encoded only on a tie of the rest, which one clock never produces: reads
        of a register holding concurrent writes encode nothing."""
        items = self.store.values.items()
        if len(items) <= 1:
            for only in items:
                return only
            return None
        best = max(items, key=_stamp)
        top = _stamp(best)
        tied = [kv for kv in items if _stamp(kv) == top]
        if len(tied) == 1:
            return best
        return max(tied, key=lambda kv: self._order(kv[1][2]))

    def _order(self, value: Any) -> bytes:
        return sort_key(self.value_spec.to_wire(value))

    @property
    def value(self) -> Any:
        """The last write's value, or None for a register never written."""
        values = self.store.values
        if len(values) == 1:  # one write (no concurrent ones): the common case
            for write in values.values():
                return write[2]
        won = self._winner()
        return None if won is None else won[1][2]

    @property
    def timestamp(self) -> Timestamp | None:
        won = self._winner()
        return None if won is None else Timestamp(won[1][0], won[1][1], won[0].replica)

    def assign(self, value: Any, *, replica: str, clock: HybridLogicalClock | None = None) -> Self:
        """Write `value` stamped after every write this register has seen."""
        return self.overwrite(self.value_spec.check(value), replica, clock or process_clock())

    def overwrite(self, stored: Any, replica: str, clock: HybridLogicalClock) -> Self:
        """`assign` of a value already checked (`value_spec.check`): the write, in place, and
        its delta. Every map put of a plain value comes here, so the stamp is a plain (l, c)
        and the delta is built directly (the general `_write` does the same in more steps)."""
        dot, write, dots = self.write_in_place(stored, replica, clock)
        return type(self)._of(DotFun({dot: write}), CausalContext.of(dots))

    def write_in_place(
        self, stored: Any, replica: str, clock: HybridLogicalClock
    ) -> tuple[Dot, tuple[int, int, Any], list[Dot]]:
        """`overwrite` without building its delta: the new dot, the write (l, c, value), and
        the delta's context as dots (those overwritten, then the new one)."""
        values = self.store.values
        if not values:
            stamp = clock.tick()
        elif len(values) == 1:
            for write in values.values():
                stamp = clock.tick(write)  # after the write seen last: its (l, c, value)
        else:
            won = self._winner()
            assert won is not None
            stamp = clock.tick(won[1])
        observed = list(values)
        context = self.context
        if replica in context.cloud:
            dot = context.take_next(replica)
        else:  # `take_next`'s common case, inline: the replica's next dot, in order
            counter = context.vector.get(replica, 0) + 1
            context.vector[replica] = counter
            dot = _new_tuple(Dot, (replica, counter))
        write = (stamp[0], stamp[1], stored)
        # a new dict, the old one left as it was: a map's savepoint keeps it (`touch_written`)
        self.store.values = {dot: write}
        observed.append(dot)
        return dot, write, observed

    def store_to_wire(self, index: WriterIndex) -> list[Any]:
        spec = self.value_spec
        return fun_to_wire(self.store, lambda w: [w[0], w[1], spec.to_wire(w[2])], index)

    @classmethod
    def store_from_wire(cls, obj: Any, claims: DotClaims, depth: int) -> Any:
        spec = cls.value_spec

        def write(raw: Any) -> tuple[int, int, Any]:
            l, c, value = wire.expect_list(raw, "lww write", length=3)  # noqa: E741
            return (
                wire.expect_count(l, "lww l"),
                wire.expect_count(c, "lww c"),
                spec.from_wire(value),
            )

        return fun_from_wire(obj, claims, write, cls.kind)


def _stamp(write: tuple[Dot, tuple[int, int, Any]]) -> tuple[int, int, str]:
    """A write's (l, c, replica): what orders last-writer-wins writes before their values."""
    dot, (l, c, _) = write  # noqa: E741 - the paper's name
    return (l, c, dot.replica)
