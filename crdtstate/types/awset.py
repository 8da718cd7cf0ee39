"""Add-wins observed-remove set: each add tags the element with a fresh dot; a remove drops
the dots it has observed, so a concurrent add (an unobserved dot) survives it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Self

from .. import wire
from ..clocks import CausalContext, Dot, VersionVector
from ..errors import DecodeError
from ..kernel import KeyedDots
from ..values import Element, check_element, element_from_wire, sort_key
from .base import Crdt


class AWSet(Crdt):
    kind = "awset"
    __slots__ = ("context", "store")

    def __init__(
        self, store: KeyedDots[Element] | None = None, context: CausalContext | None = None
    ) -> None:
        self.store: KeyedDots[Element] = store if store is not None else KeyedDots()
        self.context = context if context is not None else CausalContext()

    @classmethod
    def of(cls, elements: Iterable[Element], *, replica: str) -> AWSet:
        """A set holding `elements`, added by `replica` (handy in tests and examples)."""
        state = cls()
        for element in elements:
            state.add(element, replica=replica)
        return state

    @property
    def value(self) -> frozenset[Element]:
        return frozenset(self.store.entries)

    def __contains__(self, element: object) -> bool:
        return element in self.store.entries

    def add(self, element: Element, *, replica: str) -> AWSet:
        check_element(element)
        observed = self.store.pop_key(element)
        dot = self.context.next_dot(replica)
        self.context.add(dot)
        self.store.put(element, dot)
        return AWSet(KeyedDots.from_pairs([(element, [dot])]), CausalContext.of([*observed, dot]))

    def remove(self, element: Element, *, replica: str) -> AWSet:
        """Remove what this replica has observed of `element` (bottom if it is absent)."""
        return self._drop(self.store.pop_key(element), replica)

    def clear(self, *, replica: str) -> AWSet:
        return self._drop(self.store.pop_all(), replica)

    def _drop(self, observed: set[Dot], replica: str) -> AWSet:
        """The delta removing `observed`: those dots plus a fresh event dot, context only.

        The event dot makes the removal visible in the context, so that a context covering
        ours means "has seen every update", removals included (digest sync and RR rely on it).
        """
        if not observed:
            return AWSet()
        event = self.context.next_dot(replica)
        self.context.add(event)
        return AWSet(context=CausalContext.of([*observed, event]))

    def merge(self, other: AWSet) -> bool:
        changed = self.store.join(self.context, other.store, other.context)
        return self.context.merge(other.context) or changed

    def copy(self) -> AWSet:
        return AWSet(self.store.copy(), self.context.copy())

    def is_bottom(self) -> bool:
        return not self.store.entries and self.context.is_empty()

    @property
    def version(self) -> VersionVector:
        return self.context.version_vector()

    def digest(self) -> CausalContext:
        return self.context.copy()

    def delta_since(self, digest: CausalContext) -> AWSet:
        """Adds the peer has not seen, and the context of every dot except the live ones it
        has seen (those it must keep as they are).

        A digest covering our context does not mean the peer applied our removals: a later
        add re-tags an element, and its delta carries the earlier dot as mere context. So the
        dots we saw die are always sent; only live dots the peer has seen are left out.
        """
        owner = self.store.owner
        context = CausalContext.of(
            d for d in self.context.dots() if d not in owner or not digest.contains(d)
        )
        return AWSet(self.store.restricted_to_unseen(digest), context)

    def novel(self, delta: AWSet) -> AWSet | None:
        """Computed dot by dot: covering the delta's context is not enough to skip it, for
        the reason given in `delta_since`."""
        store, context = self.store.novel_part(self.context, delta.store, delta.context)
        part = AWSet(store, context)
        return None if part.is_bottom() else part

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AWSet):
            return self.store == other.store and self.context == other.context
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_wire(self) -> list[Any]:
        entries = sorted(
            ([e, sorted([d.replica, d.counter] for d in dots)] for e, dots in self.store.pairs()),
            key=lambda pair: sort_key(pair[0]),
        )
        return [entries, self.context.to_wire()]

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        entries, context = wire.expect_list(obj, "awset", length=2)
        ctx = wire.causal_context(context)
        store: KeyedDots[Element] = KeyedDots()
        for pair in wire.expect_list(entries, "awset entries"):
            element, dots = wire.expect_list(pair, "awset entry", length=2)
            key = element_from_wire(element)
            for raw in wire.expect_list(dots, "awset dots"):
                d = wire.dot(raw)
                if d in store.owner or not ctx.contains(d):
                    raise DecodeError("awset: a dot is repeated or outside the context")
                store.put(key, d)
        return cls(store, ctx)

    @staticmethod
    def digest_to_wire(digest: CausalContext) -> list[Any]:
        return digest.to_wire()

    @staticmethod
    def digest_from_wire(obj: Any) -> CausalContext:
        return wire.causal_context(obj, "awset digest")

    def handle(self, replica: str, record: Callable[[Crdt], None]) -> Any:
        from ..handles import SetHandle

        return SetHandle(self, replica, record)
