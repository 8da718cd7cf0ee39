"""Add-wins observed-remove set: each add tags the element with a fresh dot; a remove drops
the dots it has observed, so a concurrent add (an unobserved dot) survives it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

from .causal import CausalCrdt, keyed_from_wire, keyed_to_wire
from .clocks import CausalContext, Dot
from .kernel import KeyedDots
from .snapshots import SetSnapshot
from .values import Element, check_element, element_from_wire
from .writers import DotClaims, WriterIndex


class ElementSet(CausalCrdt):
    """What the sets whose store maps each present element to its dots have in common."""

    __slots__ = ()
    store: KeyedDots[Element]

    @classmethod
    def of(cls, elements: Iterable[Element], *, replica: str) -> Self:
        """A set holding `elements`, added by `replica` (handy in tests and examples)."""
        state = cls()
        for element in elements:
            state.add(element, replica=replica)  # type: ignore[attr-defined]
        return state

    @property
    def value(self) -> SetSnapshot:
        """An immutable set, equal to the frozenset of the elements; O(elements changed
        since the last read) to produce (see `crdtstate.types.snapshots`)."""
        return self.store.cache.read(self.store.entries, _nothing, SetSnapshot)

    def __contains__(self, element: object) -> bool:
        return element in self.store.entries

    def store_to_wire(self, index: WriterIndex) -> list[Any]:
        return keyed_to_wire(self.store, lambda e: e, index)

    @classmethod
    def store_from_wire(cls, obj: Any, claims: DotClaims, depth: int) -> KeyedDots[Element]:
        return keyed_from_wire(obj, claims, element_from_wire, cls.kind)


class AWSet(ElementSet):
    kind = "awset"
    __slots__ = ()

    def add(self, element: Element, *, replica: str) -> Self:
        element = check_element(element)
        self._touch(element)
        observed = self.store.pop_key(element)
        dot = self._event(replica)
        self.store.put(element, dot)
        return type(self)(
            KeyedDots.from_pairs([(element, [dot])]), CausalContext.of([*observed, dot])
        )

    def remove(self, element: Element, *, replica: str) -> Self:
        """Remove what this replica has observed of `element` (bottom if it is absent)."""
        self._touch(element)
        return self._drop(self.store.pop_key(element), replica)

    def clear(self, *, replica: str) -> Self:
        for element in self.store:
            self._touch(element)
        return self._drop(self.store.pop_all(), replica)

    def _drop(self, observed: set[Dot], replica: str) -> Self:
        """The delta removing `observed`: those dots plus a fresh event dot, context only.

        The event dot makes the removal visible in the context, so that a context covering
        ours means "has seen every update", removals included (digest sync and RR rely on it).
        """
        return self._removal(observed, replica)


def _nothing(element: Element) -> None:
    return None
