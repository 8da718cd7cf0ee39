"""One digest round between two map replicas that differ by `--differ` keys out of n (issue 14,
item 2): bytes on the wire and time, for n = 1k, 10k, 100k, in format 2 (writer tables) beside
format 1's digest and answer bytes, and the answer computed by scanning the whole store as
before this branch (the baselines, computed in the same run).

Each replica digests its map, and each answers the other's digest with `delta_since`. The map
is a session registry after churn: every key written by one writer, then a third of them
overwritten by the other, so the dots each replica holds are fragmented. The figures show
what this round costs today: digests and answers are O(runs of held dots), which after churn
is O(keys), not O(keys that differ). The answer's store part is now found through the dots the
peer lacks (O(what differs)); the digest and the removals it asks about are still O(runs).
Making those O(what differs) needs a digest that is not a list of runs (a multi-round range
reconciliation or a sketch); that is not done yet.

    python -m simulations.bench_digests [--sizes 1000 10000 100000] [--differ 10]
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from crdtstate import codec
from crdtstate.types import ORMap, runs
from crdtstate.types.causal import CausalDigest
from crdtstate.types.clocks import CausalContext

from .output import Column, Table
from .targets import announce, bench_parser, finish, progress

A, B = "a~k3j9x0qp", "b~77fhd2m1"  # in-memory writer names


@dataclass
class Round:
    n: int
    digest_bytes: int
    answer_bytes: int
    legacy_digest_bytes: int
    legacy_answer_bytes: int
    seconds: float
    scan_seconds: float


def build(n: int, differ: int) -> tuple[ORMap, ORMap]:
    a = ORMap[str, int]()
    for i in range(n):
        a.apply(f"session-{i}", lambda reg, i=i: reg.assign(i, replica=A))
    for i in range(0, n, 3):
        a.apply(f"session-{i}", lambda reg, i=i: reg.assign(-i, replica=B))
    b = a.copy()
    for i in range(differ):
        key = f"session-{(i * 7919) % n}"
        b.apply(key, lambda reg, i=i: reg.assign(10**6 + i, replica=B))
    return a, b


def legacy_digest(digest: CausalDigest) -> bytes:
    return codec.pack([digest.context.to_wire(), runs.to_wire(digest.held)])


def legacy_encoding(state: ORMap) -> bytes:
    """Format 1's bytes of a map of registers: a writer name in every dot, a kind per entry."""
    entries = [
        [
            key,
            value.kind,
            [[d.replica, d.counter, [w[0], w[1], w[2]]] for d, w in value.store.values.items()],
        ]
        for key, value in sorted(state.store.entries.items())
    ]
    return codec.pack([1, "ormap", [entries, state.context.to_wire()]])


def scanning_delta_since(state: ORMap, digest: CausalDigest) -> ORMap:
    """`delta_since` as it was before this branch: the whole store scanned, always."""
    seen, held = digest
    if held.is_empty():
        context = state.context.minus(seen)
    else:
        stale = held.minus(CausalContext.of(state.store.dots()))
        context = state.context.minus(seen.minus(stale))
    return type(state)(state.store.unseen_by(seen), context)


def one_round(n: int, differ: int) -> Round:
    a, b = build(n, differ)
    start = time.perf_counter()
    da, db = a.digest(), b.digest()
    wire_a = codec.pack(ORMap.digest_to_wire(da))
    wire_b = codec.pack(ORMap.digest_to_wire(db))
    to_b, to_a = a.delta_since(db), b.delta_since(da)
    answers = len(codec.encode(to_b)) + len(codec.encode(to_a))
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    da, db = a.digest(), b.digest()
    codec.pack(ORMap.digest_to_wire(da)), codec.pack(ORMap.digest_to_wire(db))
    scanned = scanning_delta_since(a, db), scanning_delta_since(b, da)
    len(codec.encode(scanned[0])) + len(codec.encode(scanned[1]))
    scan_seconds = time.perf_counter() - start
    assert scanned == (to_b, to_a), "the two ways of answering differ"
    joined_a, joined_b = a.copy(), b.copy()
    joined_a.merge(to_a)
    joined_b.merge(to_b)
    assert joined_a == joined_b, "the round did not converge"
    return Round(
        n,
        len(wire_a) + len(wire_b),
        answers,
        len(legacy_digest(da)) + len(legacy_digest(db)),
        len(legacy_encoding(to_b)) + len(legacy_encoding(to_a)),
        seconds,
        scan_seconds,
    )


TABLE = Table(
    Column("keys", 9, ","),
    Column("digests B", 10, ","),
    Column("format 1", 9, ","),
    Column("answers B", 10, ","),
    Column("format 1", 9, ","),
    Column("round ms", 9, ".1f"),
    Column("scanning", 9, ".1f"),
)


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        "simulations.bench_digests",
        "Measures the bytes and time of one digest round between two map replicas that "
        "differ by a few keys, at several map sizes.",
        quick="small maps (CI)",
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="keys in the map"
    )
    parser.add_argument("--differ", type=int, default=10, help="keys changed on one side")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = [200, 2_000]
    started = announce(f"about {max(5, round(sum(args.sizes) / 4_000))} s")
    print(f"one digest round, two map replicas differing by {args.differ} keys", flush=True)
    print(TABLE.header())
    for n in args.sizes:
        progress(f"{n:,} keys")
        r = one_round(n, args.differ)
        print(
            TABLE.row(
                r.n,
                r.digest_bytes,
                r.legacy_digest_bytes,
                r.answer_bytes,
                r.legacy_answer_bytes,
                r.seconds * 1000,
                r.scan_seconds * 1000,
            ),
            flush=True,
        )
    print(
        "(both digests and both answers; round: digests, answers and their encoding; "
        "scanning: the same round answered by scanning the whole store, as before)"
    )
    return finish(started, {})


if __name__ == "__main__":
    raise SystemExit(main())
