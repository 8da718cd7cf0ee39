"""Hypothesis strategies shared by the type tests: reachable states of every CRDT type.

States are built the way replicas build them: a script of mutations on three replicas,
interleaved with syncs (a full-state merge or a delta), so every state is one a real system
can reach and every delta is one a real mutator produced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from crdtstate.types import (
    AWSet,
    BoundedCounter,
    Crdt,
    DWFlag,
    EWFlag,
    ExpiringMap,
    ExpiringRegister,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORMap,
    PNCounter,
    RWSet,
)
from crdtstate.types.hlc import HybridLogicalClock

REPLICAS = ("a", "b", "c")
KEYS = st.sampled_from(["k", "l", "m"])
ELEMENTS = st.sampled_from([1, 2, 3, "x", ("t", 1)])
VALUES = st.one_of(st.integers(-3, 3), st.sampled_from(["v", "w"]), st.none())

Op = Callable[[Any, str], Crdt]  # (state, replica) -> delta


def counter_ops(grow_only: bool) -> st.SearchStrategy[Op]:
    amounts = st.integers(0 if grow_only else -4, 4)
    return amounts.map(lambda n: lambda s, r: s.increment(n, replica=r))


def set_ops(removes: bool) -> st.SearchStrategy[Op]:
    add = ELEMENTS.map(lambda e: lambda s, r: s.add(e, replica=r))
    if not removes:
        return add
    remove = ELEMENTS.map(lambda e: lambda s, r: s.remove(e, replica=r))
    clear = st.just(lambda s, r: s.clear(replica=r))
    return st.one_of(add, add, remove, clear)


def flag_ops() -> st.SearchStrategy[Op]:
    return st.sampled_from([lambda s, r: s.enable(replica=r), lambda s, r: s.disable(replica=r)])


def register_ops() -> st.SearchStrategy[Op]:
    assign = VALUES.map(lambda v: lambda s, r: s.assign(v, replica=r))
    return st.one_of(assign, assign, st.just(lambda s, r: s.clear(replica=r)))


FROZEN_CLOCK = HybridLogicalClock(wall=lambda: 10_000_000)  # writes stamped at t = 10 s
TTLS = st.sampled_from([None, 0.5, 3.0])


def expiring_ops() -> st.SearchStrategy[Op]:
    assign = st.tuples(VALUES, TTLS).map(
        lambda vt: lambda s, r: s.assign(vt[0], replica=r, ttl=vt[1], clock=FROZEN_CLOCK)
    )
    renew = TTLS.map(lambda t: lambda s, r: s.renew(replica=r, ttl=t, clock=FROZEN_CLOCK))
    return st.one_of(assign, assign, renew, st.just(lambda s, r: s.clear(replica=r)))


def bounded_ops() -> st.SearchStrategy[Op]:
    """Every mutator, spending and giving only rights the replica holds (else it raises)."""
    n = st.integers(0, 3)
    to = st.sampled_from(REPLICAS)
    return st.one_of(
        n.map(lambda k: lambda s, r: s.mint(k, replica=r)),
        n.map(lambda k: lambda s, r: s.spend(min(k, s.rights(r)), replica=r)),
        st.tuples(n, to).map(
            lambda kt: (
                lambda s, r: (
                    s.transfer(min(kt[0], s.rights(r)), kt[1], replica=r)
                    if kt[1] != r
                    else s.request(kt[0], replica=r)
                )
            )
        ),
        n.map(lambda k: lambda s, r: s.request(k, replica=r)),
        st.just(lambda s, r: s.grant(replica=r)),
        st.just(lambda s, r: s.advance(s.epoch + 1)),
    )


def map_ops(nested: st.SearchStrategy[Op]) -> st.SearchStrategy[Op]:
    """Mutate the value under a key with a nested op, remove a key, or clear the map."""
    apply = st.tuples(KEYS, nested).map(
        lambda kn: lambda s, r: s.apply(kn[0], lambda v: kn[1](v, r))
    )
    remove = KEYS.map(lambda k: lambda s, r: s.remove(k, replica=r))
    clear = st.just(lambda s, r: s.clear(replica=r))
    return st.one_of(apply, apply, apply, remove, clear)


@dataclass(frozen=True)
class Kind:
    name: str
    cls: type[Crdt]
    ops: st.SearchStrategy[Op]

    def __repr__(self) -> str:
        return self.name


KINDS: list[Kind] = [
    Kind("GCounter", GCounter, counter_ops(True)),
    Kind("PNCounter", PNCounter, counter_ops(False)),
    Kind("GSet", GSet, set_ops(False)),
    Kind("AWSet", AWSet, set_ops(True)),
    Kind("RWSet", RWSet, set_ops(True)),
    Kind("EWFlag", EWFlag, flag_ops()),
    Kind("DWFlag", DWFlag, flag_ops()),
    Kind("MVRegister", MVRegister, register_ops()),
    Kind("LWWRegister", LWWRegister, register_ops()),
    Kind("BoundedCounter", BoundedCounter, bounded_ops()),
    Kind("ExpiringRegister", ExpiringRegister, expiring_ops()),
    Kind("ExpiringMap[str, Any]", ExpiringMap, map_ops(expiring_ops())),
    Kind(
        "ExpiringMap[str, int | str | None]",
        ExpiringMap[str, int | str | None],
        map_ops(expiring_ops()),
    ),
    Kind("ORMap[str, PNCounter]", ORMap[str, PNCounter], map_ops(counter_ops(False))),
    Kind("ORMap[str, GCounter]", ORMap[str, GCounter], map_ops(counter_ops(True))),
    Kind("ORMap[str, AWSet]", ORMap[str, AWSet], map_ops(set_ops(True))),
    Kind("ORMap[str, RWSet]", ORMap[str, RWSet], map_ops(set_ops(True))),
    Kind("ORMap[str, GSet]", ORMap[str, GSet], map_ops(set_ops(False))),
    Kind("ORMap[str, EWFlag]", ORMap[str, EWFlag], map_ops(flag_ops())),
    Kind("ORMap[str, DWFlag]", ORMap[str, DWFlag], map_ops(flag_ops())),
    Kind("ORMap[str, MVRegister]", ORMap[str, MVRegister], map_ops(register_ops())),
    Kind("ORMap[str, int | str | None]", ORMap[str, int | str | None], map_ops(register_ops())),
    Kind(
        "ORMap[str, ORMap[str, PNCounter]]",
        ORMap[str, ORMap[str, PNCounter]],
        map_ops(map_ops(counter_ops(False))),
    ),
    Kind(
        "ORMap[str, ORMap[str, ORMap[str, AWSet]]]",
        ORMap[str, ORMap[str, ORMap[str, AWSet]]],
        map_ops(map_ops(map_ops(set_ops(True)))),
    ),
]
KIND_BY_NAME = {kind.name: kind for kind in KINDS}


@dataclass
class History:
    """Three replicas' states after a script, and every delta any mutator returned."""

    kind: Kind
    states: list[Crdt]
    deltas: list[Crdt] = field(default_factory=list)


@st.composite
def histories(draw: st.DrawFn, kind: Kind, max_steps: int = 12) -> History:
    states = [kind.cls() for _ in REPLICAS]
    history = History(kind, states)
    for _ in range(draw(st.integers(0, max_steps))):
        i = draw(st.integers(0, len(REPLICAS) - 1))
        if draw(st.integers(0, 3)) == 0:
            j = draw(st.integers(0, len(REPLICAS) - 1))
            states[i].merge(states[j].copy())
        else:
            delta = draw(kind.ops)(states[i], REPLICAS[i])
            history.deltas.append(delta.copy())
    return history


def joined(*states: Crdt) -> Crdt:
    out = type(states[0])()
    for s in states:
        out.merge(s.copy())
    return out
