"""Grow-only and remove-wins sets, on the same keyed dot store as the AWSet.

A GSet tags each element with one dot and never drops it, except when an enclosing ORMap
resets it (which is why even a grow-only set is causal here). An RWSet keys its dots by
(element, present?): an add drops the element's observed dots and adds a "present" dot, a
remove drops them and adds an "absent" dot; an element is in the set when it has a present
dot and no absent dot, so a concurrent remove beats an add (Almeida et al.'s RWSet). The absent
dot is the one thing kept for a removed element, until an add that has seen it drops it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

from ..errors import DecodeError
from . import wire
from .awset import ElementSet
from .causal import CausalCrdt, keyed_from_wire, keyed_to_wire
from .clocks import CausalContext
from .kernel import KeyedDots
from .values import Element, check_element, element_from_wire
from .writers import DotClaims, WriterIndex


class GSet(ElementSet):
    kind = "gset"
    __slots__ = ()

    def add(self, element: Element, *, replica: str) -> Self:
        """Tag a new element with a dot; adding a present element changes nothing."""
        element = check_element(element)
        if element in self.store:
            return type(self)()
        self._touch(element)
        dot = self._event(replica)
        self.store.put(element, dot)
        return type(self)(KeyedDots.from_pairs([(element, [dot])]), CausalContext.of([dot]))


class RWSet(CausalCrdt):
    kind = "rwset"
    __slots__ = ()
    store: KeyedDots[tuple[Element, bool]]

    @classmethod
    def of(cls, elements: Iterable[Element], *, replica: str) -> Self:
        state = cls()
        for element in elements:
            state.add(element, replica=replica)
        return state

    @property
    def value(self) -> frozenset[Element]:
        entries = self.store.entries
        return frozenset(e for e, present in entries if present and (e, False) not in entries)

    def __contains__(self, element: object) -> bool:
        entries = self.store.entries
        return (element, True) in entries and (element, False) not in entries

    def add(self, element: Element, *, replica: str) -> Self:
        element = check_element(element)
        return self._mark(element, True, replica)

    def remove(self, element: Element, *, replica: str) -> Self:
        """Mark `element` absent; this wins over every add it has not observed."""
        element = check_element(element)
        return self._mark(element, False, replica)

    def clear(self, *, replica: str) -> Self:
        delta = type(self)()
        for element in self.value:
            delta.merge(self._mark(element, False, replica))
        return delta

    def _mark(self, element: Element, present: bool, replica: str) -> Self:
        self._touch((element, True))
        self._touch((element, False))
        observed = self.store.pop_key((element, True)) | self.store.pop_key((element, False))
        dot = self._event(replica)
        self.store.put((element, present), dot)
        return type(self)(
            KeyedDots.from_pairs([((element, present), [dot])]),
            CausalContext.of([*observed, dot]),
        )

    def store_to_wire(self, index: WriterIndex) -> list[Any]:
        return keyed_to_wire(self.store, lambda key: [key[0], key[1]], index)

    @classmethod
    def store_from_wire(
        cls, obj: Any, claims: DotClaims, depth: int
    ) -> KeyedDots[tuple[Element, bool]]:
        return keyed_from_wire(obj, claims, _marked_element, cls.kind)


def _marked_element(obj: Any) -> tuple[Element, bool]:
    raw, present = wire.expect_list(obj, "rwset key", length=2)
    if not isinstance(present, bool):
        raise DecodeError("rwset key: the mark is not a bool")
    return element_from_wire(raw), present
