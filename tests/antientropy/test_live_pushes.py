"""No update is ever lost while replicas are connected (issue 13).

Random local updates, of every kind, made on live replicas of the line a <-> b <-> c while
pushes are in flight: between two rounds of the pump a replica may make several updates, so
one push joins several delta-groups, and the relay b joins groups of different origins. After
quiet, every replica must hold exactly what every other holds: the same digest and the same
values. An update lost by a join (its push acknowledged without it) leaves its sender ahead of
the others for good, since nothing resyncs a link whose pushes were all acknowledged.

The documents are where joining is hard: a Yjs update may depend on text outside the deltas
joined with it, so text is inserted and deleted anywhere, by several replicas at once.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crdtstate import AWSet, Document, ORMap, PNCounter, Replica

from .session_pump import Network

LIVE = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REPLICA_IDS = ("a", "b", "c")
replica_choice = st.sampled_from(REPLICA_IDS)
fraction = st.floats(0.0, 1.0)

TEXT_INSERT = st.tuples(st.just("insert"), replica_choice, fraction, st.text("xyz;", max_size=6))
TEXT_DELETE = st.tuples(st.just("delete"), replica_choice, fraction, st.integers(1, 6))
DOC_MAP = st.tuples(st.just("doc_map"), replica_choice, st.sampled_from("kl"), st.integers(0, 9))
SET_ADD = st.tuples(st.just("set_add"), replica_choice, st.integers(0, 7), st.none())
SET_REMOVE = st.tuples(st.just("set_remove"), replica_choice, st.integers(0, 7), st.none())
MAP_COUNT = st.tuples(
    st.just("map_count"), replica_choice, st.sampled_from("pqr"), st.integers(-3, 3)
)
MAP_DELETE = st.tuples(st.just("map_delete"), replica_choice, st.sampled_from("pqr"), st.none())
COUNT = st.tuples(st.just("count"), replica_choice, st.integers(-5, 5), st.none())
PUMP = st.tuples(st.just("pump"), replica_choice, st.integers(0, 2), st.none())

DOCUMENT_OPS = [TEXT_INSERT, TEXT_INSERT, TEXT_DELETE, DOC_MAP, PUMP]
ALL_OPS = [*DOCUMENT_OPS, SET_ADD, SET_REMOVE, MAP_COUNT, MAP_DELETE, COUNT, PUMP]

Op = tuple[Any, ...]


def text_insert(where: float, text: str) -> Any:
    def updater(d: Any) -> None:
        body = d.text("body")
        body.insert(int(where * len(body)), text)

    return updater


def text_delete(where: float, length: int) -> Any:
    def updater(d: Any) -> None:
        body = d.text("body")
        if len(body):
            start = int(where * (len(body) - 1))
            del body[start : min(len(body), start + length)]

    return updater


def map_delete(key: str) -> Any:
    def updater(m: Any) -> None:
        m.pop(key, None)

    return updater


async def apply_op(replica: Replica, op: Op) -> None:
    """Make one local update (one delta-group) on `replica`."""
    name, _, first, second = op
    if name == "insert":
        await replica.container("doc", Document).update(text_insert(first, second))
    elif name == "delete":
        await replica.container("doc", Document).update(text_delete(first, second))
    elif name == "doc_map":
        await replica.container("doc", Document).update(
            lambda d: d.map("meta").__setitem__(first, second)
        )
    elif name == "set_add":
        await replica.container("tags", AWSet).update(lambda s: s.add(first))
    elif name == "set_remove":
        await replica.container("tags", AWSet).update(lambda s: s.discard(first))
    elif name == "map_count":
        await replica.container("hits", ORMap[str, PNCounter]).update(
            lambda m: m[first].increment(second)
        )
    elif name == "map_delete":
        await replica.container("hits", ORMap[str, PNCounter]).update(map_delete(first))
    elif name == "count":
        await replica.container("total", PNCounter).update(lambda c: c.increment(first))
    else:
        raise AssertionError(f"unknown op {name}")


async def run_live(ops: list[Op], *, seed: int) -> dict[str, Replica]:
    """Apply `ops` on the line a <-> b <-> c, pumping only where an op says so, then settle."""
    replicas = {rid: Replica(rid) for rid in REPLICA_IDS}
    net = Network(rng=random.Random(seed))
    net.connect(replicas["a"], replicas["b"])
    net.connect(replicas["b"], replicas["c"])
    await net.run()  # the sessions open (digest exchange done) before any update
    for op in ops:
        if op[0] == "pump":
            for _ in range(op[2]):
                await net.step()
        else:
            await apply_op(replicas[op[1]], op)
    await net.settle()
    assert net.all_open()
    return replicas


def assert_all_equal(replicas: dict[str, Replica]) -> None:
    """Every replica holds what every other holds: values (what a user reads) and digests."""
    names = sorted({name for r in replicas.values() for name in r.names()})
    for name in names:
        values = {rid: _plain(r.snapshot(name)) for rid, r in replicas.items()}
        assert len({repr(v) for v in values.values()}) == 1, (name, values)
    digests = {rid: r.digest() for rid, r in replicas.items()}
    assert len(set(digests.values())) == 1, digests


def _plain(state: Any) -> Any:
    """The value as comparable plain data; empty reads as absent (a document root declared
    but never written, a counter moved by 0, are not updates a peer must receive)."""
    if state is None:
        return None
    value = state.value
    if isinstance(value, frozenset):
        value = sorted(value)
    elif hasattr(value, "items"):
        value = sorted((k, _plain_value(v)) for k, v in dict(value).items() if v not in ("", 0))
        value = [(k, v) for k, v in value if v != []]
    return value or None


def _plain_value(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted(value.items())
    return value


@LIVE
@given(st.lists(st.one_of(*DOCUMENT_OPS), min_size=2, max_size=40), st.integers(0, 2**16))
async def test_live_document_edits_on_a_line_converge_exactly(ops: list[Op], seed: int) -> None:
    """Text inserted and deleted anywhere, map keys set, by all three replicas while pushes
    are in flight: every replica ends with the same document, nothing lost."""
    assert_all_equal(await run_live(ops, seed=seed))


@LIVE
@given(st.lists(st.one_of(*ALL_OPS), min_size=2, max_size=40), st.integers(0, 2**16))
async def test_live_updates_of_every_kind_converge_exactly(ops: list[Op], seed: int) -> None:
    """Documents, sets, maps and counters updated on live replicas: nothing lost anywhere."""
    assert_all_equal(await run_live(ops, seed=seed))


async def test_the_issue_reproduction_converges_on_the_peer() -> None:
    """Issue 13 as reported: three edits in a row on a, joined into one push to b."""
    a, b = Replica("a"), Replica("b")
    net = Network()
    net.connect(a, b)
    await net.run()
    doc = a.container("doc", Document)
    await doc.update(lambda d: d.text("t").insert(0, "hello world;"))
    await net.step()  # the first edit's push is on its way when the next two are made
    await doc.update(lambda d: d.text("t").__delitem__(slice(0, 6)))
    await doc.update(lambda d: d.text("t").__iadd__("tail;"))
    await net.settle()
    assert dict(await b.container("doc", Document).get()) == {"t": "world;tail;"}
    assert a.digest() == b.digest()
