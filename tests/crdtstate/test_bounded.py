"""The bounded counter: never below zero under concurrent spending on every replica with random
partitions, duplicated and reordered deltas; and rights flow to the replicas that ask."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate import InsufficientRightsError, Replica
from crdtstate.types import BoundedCounter

pytestmark = pytest.mark.anyio

REPLICAS = ("a", "b", "c")
PAIRS = [(x, y) for x in REPLICAS for y in REPLICAS if x != y]


def joined(states: dict[str, BoundedCounter]) -> BoundedCounter:
    out = BoundedCounter()
    for s in states.values():
        out.merge(s.copy())
    return out


def grant_rounds(states: dict[str, BoundedCounter], rounds: int = 50) -> None:
    """Every replica grants, then every pair syncs, until nothing changes."""
    for _ in range(rounds):
        changed = False
        for r in REPLICAS:
            changed = not states[r].grant(replica=r).is_bottom() or changed
        for x, y in PAIRS:
            changed = states[y].merge(states[x].copy()) or changed
        if not changed:
            return
    raise AssertionError("grants did not settle")


step = st.one_of(
    st.tuples(st.just("spend"), st.sampled_from(REPLICAS), st.integers(1, 4)),
    st.tuples(st.just("request"), st.sampled_from(REPLICAS), st.integers(1, 4)),
    st.tuples(st.just("grant"), st.sampled_from(REPLICAS), st.integers(0, 2)),
    st.tuples(st.just("mint"), st.sampled_from(REPLICAS), st.integers(0, 3)),
    st.tuples(st.just("deliver"), st.integers(0, 10_000), st.sampled_from(REPLICAS)),
    st.tuples(st.just("gossip"), st.sampled_from(PAIRS), st.just(0)),
    st.tuples(st.just("partition"), st.frozensets(st.sampled_from(PAIRS)), st.just(0)),
)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(0, 12), steps=st.lists(step, max_size=60), asker=st.sampled_from(REPLICAS))
def test_never_below_zero_under_partitions_and_rights_flow_to_who_asks(
    start: int, steps: list[tuple[str, object, int]], asker: str
) -> None:
    states = {r: BoundedCounter() for r in REPLICAS}
    states["a"].mint(start, replica="a")
    sent: list[tuple[str, BoundedCounter]] = []  # every delta, for late or repeated delivery
    cut: frozenset[tuple[str, str]] = frozenset()
    spent = 0
    for action, who, n in steps:
        if action in ("spend", "request", "grant", "mint"):
            r = str(who)
            s = states[r]
            if action == "spend":
                if s.rights(r) >= n:
                    sent.append((r, s.spend(n, replica=r)))
                    spent += n
                else:
                    with pytest.raises(InsufficientRightsError):
                        s.spend(n, replica=r)
            elif action == "request":
                sent.append((r, s.request(n, replica=r)))
            elif action == "grant":
                sent.append((r, s.grant(replica=r, keep=n)))
            else:
                sent.append((r, s.mint(n, replica=r)))
        elif action == "deliver" and sent:
            origin, delta = sent[int(who) % len(sent)]  # any delta, any number of times
            if (origin, n) not in cut and origin != n:
                states[str(n)].merge(delta.copy())
        elif action == "gossip":
            x, y = who  # type: ignore[misc]
            if (x, y) not in cut:
                states[y].merge(states[x].copy())
        elif action == "partition":
            cut = who  # type: ignore[assignment]
        total = joined(states)
        assert total.value >= 0  # the invariant, on everything any replica has done
        assert all(states[r].rights(r) >= 0 for r in REPLICAS)
        assert sum(total.rights(r) for r in REPLICAS) == total.value
    assert sum(joined(states).spent.values()) == spent  # every accepted spend counts

    # Heal; `asker` wants every right there is, and nobody else asks for more.
    for x, y in PAIRS:
        states[y].merge(states[x].copy())
    total = states[asker].value
    states[asker].request(max(0, total - states[asker].rights(asker)), replica=asker)
    grant_rounds(states)
    needy = [r for r in REPLICAS if states[r].outstanding(r) > 0]
    if asker in needy:  # then no other replica that is satisfied still holds rights
        assert all(states[r].rights(r) == 0 for r in REPLICAS if r not in needy)


def test_rights_move_to_the_replica_that_asks_and_it_spends_without_asking_again() -> None:
    a, c = BoundedCounter(), BoundedCounter()
    c.merge(a.mint(10, replica="a"))
    assert not c.spend(0, replica="c").minted and c.rights("c") == 0
    a.merge(c.request(4, replica="c"))
    assert a.outstanding("c") == 4
    c.merge(a.grant(replica="a", keep=5))
    assert (a.rights("a"), c.rights("c"), c.outstanding("c")) == (6, 4, 0)
    for _ in range(4):
        a.merge(c.spend(1, replica="c"))
    with pytest.raises(InsufficientRightsError):
        c.spend(1, replica="c")
    assert a.value == c.value == 6
    assert a.grant(replica="a").is_bottom()  # nobody is waiting


def test_a_new_epoch_starts_over_everywhere() -> None:
    a, b = BoundedCounter(), BoundedCounter()
    b.merge(a.mint(3, replica="a"))
    stale = b.mint_up_to(2, replica="b")
    assert b.mint_up_to(2, replica="b").is_bottom()  # idempotent: a fixed share
    a.merge(b.advance(7))
    assert (a.epoch, a.value, b.value) == (7, 0, 0)
    a.merge(b.mint_up_to(2, replica="b"))
    a.merge(stale)  # a late delta of the old epoch changes nothing
    b.merge(BoundedCounter(6, minted={"c": 9}))
    assert a == b and a.value == 2 and a.epoch == 7


async def test_a_replicated_bounded_counter_refuses_when_out_of_rights() -> None:
    async with Replica.open("a") as replica:
        quota = replica.container("quota", BoundedCounter)
        await quota.update(lambda q: q.mint(2))
        outcomes: list[bool] = []
        for _ in range(3):
            await quota.update(lambda q: outcomes.append(q.try_spend()))
        assert outcomes == [True, True, False]
        assert await quota.get() == 0
