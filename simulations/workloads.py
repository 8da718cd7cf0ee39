"""Random operations per CRDT type, pluggable: a type joins the simulations and the stateful
tests by registering a `Workload` (`register(Workload(MyType, my_operation))`).

An operation takes the live state, the acting replica and a `choice` integer (drawn by the
caller: hypothesis or a seeded `Random`), mutates the state and returns the delta. Small
universes of elements make concurrent adds and removes of the same element common.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crdtstate.types import AWSet, Crdt, GCounter, PNCounter

Operation = Callable[[Any, str, int], Crdt]


@dataclass(frozen=True, slots=True)
class Workload:
    kind: type[Crdt]
    operation: Operation

    @property
    def name(self) -> str:
        return self.kind.kind

    def mutation(self, choice: int) -> Callable[[Crdt, str], Crdt]:
        """The operation with its choice bound, in the shape `Network.update` takes."""
        return lambda state, replica: self.operation(state, replica, choice)


WORKLOADS: dict[str, Workload] = {}


def register(workload: Workload) -> Workload:
    WORKLOADS[workload.name] = workload
    return workload


def _gcounter(state: GCounter, replica: str, choice: int) -> Crdt:
    return state.increment(1 + choice % 5, replica=replica)


def _pncounter(state: PNCounter, replica: str, choice: int) -> Crdt:
    amount = 1 + (choice // 2) % 5
    if choice % 2:
        return state.decrement(amount, replica=replica)
    return state.increment(amount, replica=replica)


def _awset(state: AWSet, replica: str, choice: int) -> Crdt:
    element = f"e{(choice // 8) % 6}"
    op = choice % 8
    if op < 5:
        return state.add(element, replica=replica)
    if op < 7:
        return state.remove(element, replica=replica)
    return state.clear(replica=replica)


register(Workload(GCounter, _gcounter))
register(Workload(PNCounter, _pncounter))
register(Workload(AWSet, _awset))
