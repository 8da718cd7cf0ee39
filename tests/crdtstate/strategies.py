"""Hypothesis strategies for crdtstate: random histories of replicas that mutate and merge.

A history runs random mutators (increment / decrement / add / remove / clear) on a few replicas
("a", "b", "c"). Each replica acts only on its own state, as in a real deployment, so the dots it
mints are unique; now and then one replica merges another's whole state. The history records
every delta a mutator returned and a snapshot of the acting replica after every step, so states
drawn from one history are a mix of causally related and concurrent ones.

States drawn from *different* histories must not be joined: two histories may mint the same dot
for different elements, which no real pair of replicas can do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from crdtstate import AWSet, Crdt, GCounter, PNCounter
from crdtstate.types.values import sort_key

C = TypeVar("C", bound=Crdt)

REPLICAS: tuple[str, ...] = ("a", "b", "c")
KINDS: tuple[type[Crdt], ...] = (GCounter, PNCounter, AWSet)

#: Settings for every property test of the suite: no deadline, a modest number of examples.
LAWS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: For tests that draw whole histories, or check every pair of states of one per example.
HISTORY_LAWS = settings(LAWS, max_examples=50)

replica_ids = st.sampled_from(REPLICAS)

#: Small scalars, so that different replicas often touch the same element. Booleans and floats
#: are left out: `1 == True == 1.0` in Python (test_codec covers those elements).
scalars = st.one_of(st.text(alphabet="xyz", max_size=2), st.integers(min_value=-3, max_value=3))
elements = st.one_of(
    scalars,
    st.tuples(scalars, scalars),
    st.tuples(scalars, st.tuples(scalars)),
)
gcounter_amounts = st.integers(min_value=0, max_value=5)
pncounter_amounts = st.integers(min_value=-5, max_value=5)


@dataclass(frozen=True)
class Mutation:
    """One mutator call, e.g. `add(('x', 1))`; `apply` runs it and returns its delta."""

    name: str
    args: tuple[Any, ...] = ()

    def apply(self, state: Crdt, replica: str) -> Crdt:
        return getattr(state, self.name)(*self.args, replica=replica)

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(map(repr, self.args))})"


_gcounter_mutations = st.builds(Mutation, st.just("increment"), st.tuples(gcounter_amounts))
_pncounter_mutations = st.builds(
    Mutation, st.sampled_from(["increment", "decrement"]), st.tuples(pncounter_amounts)
)
_awset_ops = st.sampled_from(["add", "add", "remove", "remove", "clear"])


@st.composite
def _awset_mutations(draw: st.DrawFn, present: tuple[Any, ...]) -> Mutation:
    op = draw(_awset_ops)
    if op == "clear":
        return Mutation("clear")
    if op == "remove" and present and draw(st.booleans()):
        return Mutation("remove", (present[draw(st.integers(0, len(present) - 1))],))
    return Mutation(op, (draw(elements),))


def mutations(state: Crdt) -> st.SearchStrategy[Mutation]:
    """A random mutator call for `state`; removes pick a present element half of the time."""
    if isinstance(state, GCounter):
        return _gcounter_mutations
    if isinstance(state, PNCounter):
        return _pncounter_mutations
    if isinstance(state, AWSet):
        return _awset_mutations(tuple(sorted(state.value, key=sort_key)))
    raise TypeError(f"no mutations for {type(state).__name__}")


@dataclass
class History(Generic[C]):
    """What a random run produced: final states, every delta, and snapshots along the way."""

    kind: type[C]
    replicas: dict[str, C]
    deltas: list[C] = field(default_factory=list)
    snapshots: list[C] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def pool(self) -> list[C]:
        """Every state the run went through (bottom, snapshots and final replica states)."""
        return [*self.snapshots, *self.replicas.values()]


_others = {r: st.sampled_from([o for o in REPLICAS if o != r]) for r in REPLICAS}
_one_in_four = st.integers(min_value=0, max_value=3)


@st.composite
def histories(draw: st.DrawFn, kind: type[C], max_steps: int = 12) -> History[C]:
    """A random run of mutators and merges over the replicas `REPLICAS`."""
    history: History[C] = History(kind, {r: kind() for r in REPLICAS}, snapshots=[kind()])
    for _ in range(draw(st.integers(min_value=0, max_value=max_steps))):
        actor = draw(replica_ids)
        state = history.replicas[actor]
        if draw(_one_in_four) == 0:  # merge one step in four
            source = draw(_others[actor])
            state.merge(history.replicas[source].copy())
            history.log.append(f"{actor} merges {source}")
        else:
            mutation = draw(mutations(state))
            history.deltas.append(mutation.apply(state, actor))
            history.log.append(f"{actor}.{mutation!r}")
        history.snapshots.append(state.copy())
    return history


@st.composite
def states(draw: st.DrawFn, kind: type[C]) -> C:
    """One random state of `kind` (a private copy: the test may mutate it)."""
    history = draw(histories(kind))
    return draw(st.sampled_from(history.pool())).copy()


@st.composite
def related_states(draw: st.DrawFn, kind: type[C], n: int) -> tuple[C, ...]:
    """`n` states from one history: concurrent or causally related, and safe to join."""
    history = draw(histories(kind))
    pool = history.pool()
    return tuple(draw(st.sampled_from(pool)).copy() for _ in range(n))


@st.composite
def delta_lists(draw: st.DrawFn, kind: type[C]) -> list[C]:
    """The deltas of one random history, in the order the mutators returned them."""
    history = draw(histories(kind))
    return [d.copy() for d in history.deltas]


def join(*parts: C) -> C:
    """The join of `parts`, computed on a fresh state (the arguments are left untouched)."""
    if not parts:
        raise ValueError("join of nothing: pass at least one state")
    result = type(parts[0])()
    for part in parts:
        result.merge(part.copy())
    return result


def join_all(kind: type[C], parts: Sequence[C]) -> C:
    """The join of `parts` starting from the bottom of `kind` (bottom when `parts` is empty)."""
    result = kind()
    for part in parts:
        result.merge(part.copy())
    return result
