"""Version vectors and causal contexts, checked against plain-Python models.

A `VersionVector` is modelled by a dict replica -> counter (missing means 0); a
`CausalContext` by the set of dots it holds.
"""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from crdtstate import CausalContext, Dot, VersionVector

from .strategies import LAWS

RIDS = ("a", "b", "c", "d")
MAX_COUNTER = 8

vv_entries = st.dictionaries(st.sampled_from(RIDS), st.integers(min_value=0, max_value=5))
vectors = vv_entries.map(VersionVector)
dots = st.builds(Dot, st.sampled_from(RIDS[:3]), st.integers(min_value=1, max_value=MAX_COUNTER))
dot_sets = st.frozensets(dots, max_size=16)
UNIVERSE = [Dot(r, n) for r in RIDS for n in range(1, 2 * MAX_COUNTER + 3)]


def context_of(dot_list: list[Dot] | frozenset[Dot]) -> CausalContext:
    ctx = CausalContext()
    for d in dot_list:
        ctx.add(d)
    return ctx


def model(ctx: CausalContext) -> set[Dot]:
    """The set of dots a context holds, read through `contains` over a finite universe."""
    return {d for d in UNIVERSE if ctx.contains(d)}


def compact_form(dot_set: frozenset[Dot] | set[Dot]) -> tuple[dict[str, int], set[Dot]]:
    """The expected compact form: the contiguous prefix of each replica, and the other dots."""
    vector: dict[str, int] = {}
    for r in {d.replica for d in dot_set}:
        n = 0
        while Dot(r, n + 1) in dot_set:
            n += 1
        if n:
            vector[r] = n
    rest = {d for d in dot_set if d.counter > vector.get(d.replica, 0)}
    return vector, rest


def split(ctx: CausalContext) -> tuple[dict[str, int], set[Dot]]:
    """A context as (its vector, the dots it holds above the vector)."""
    return dict(ctx.vector), {d for d in ctx.dots() if d.counter > ctx.vector.get(d.replica, 0)}


def assert_compact(ctx: CausalContext) -> None:
    """The context invariant: the vector holds each replica's whole contiguous prefix, so no
    dot outside it is covered by it or extends it."""
    vector, rest = split(ctx)
    for d in rest:
        assert d.counter > vector.get(d.replica, 0) + 1, (d, ctx)
    assert all(n > 0 for n in vector.values()), ctx


# -- VersionVector ------------------------------------------------------------------------------


@LAWS
@given(vectors, vectors)
def test_vv_merge_is_pointwise_max(a: VersionVector, b: VersionVector) -> None:
    """`merge` is the pointwise maximum of the two vectors."""
    merged = a.merge(b)
    for r in RIDS:
        assert merged.get(r) == max(a.get(r), b.get(r))


@LAWS
@given(vectors, vectors, vectors)
def test_vv_merge_is_a_join(a: VersionVector, b: VersionVector, c: VersionVector) -> None:
    """`merge` is commutative, associative, idempotent, and the least upper bound for `<=`."""
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert a.merge(VersionVector()) == a
    assert a <= a.merge(b) and b <= a.merge(b)
    if a <= c and b <= c:
        assert a.merge(b) <= c
    assert (a <= b) == (a.merge(b) == b)


@LAWS
@given(vv_entries, vv_entries)
def test_vv_order_is_pointwise(x: dict[str, int], y: dict[str, int]) -> None:
    """`a <= b` holds exactly when every entry of a is at most b's (missing entries are 0)."""
    a, b = VersionVector(x), VersionVector(y)
    expected = all(x.get(r, 0) <= y.get(r, 0) for r in RIDS)
    assert (a <= b) is expected
    assert (b >= a) is expected
    assert (a < b) is (expected and any(x.get(r, 0) != y.get(r, 0) for r in RIDS))


@LAWS
@given(vectors, vectors, vectors)
def test_vv_order_is_a_partial_order(a: VersionVector, b: VersionVector, c: VersionVector) -> None:
    """`<=` is reflexive, antisymmetric and transitive."""
    assert a <= a
    if a <= b and b <= a:
        assert a == b
    if a <= b and b <= c:
        assert a <= c


@LAWS
@given(vv_entries, vv_entries)
def test_vv_concurrent(x: dict[str, int], y: dict[str, int]) -> None:
    """Two vectors are concurrent when each has an entry ahead of the other's; it is symmetric."""
    a, b = VersionVector(x), VersionVector(y)
    ahead = any(x.get(r, 0) > y.get(r, 0) for r in RIDS)
    behind = any(y.get(r, 0) > x.get(r, 0) for r in RIDS)
    assert a.concurrent(b) is (ahead and behind)
    assert a.concurrent(b) is b.concurrent(a)
    assert not a.concurrent(a)
    assert not a.concurrent(a.merge(b))


@LAWS
@given(vv_entries)
def test_vv_zero_entries_are_omitted(x: dict[str, int]) -> None:
    """A zero entry is the same as a missing one, for equality, hashing and iteration."""
    with_zero = VersionVector({**x, "z": 0})
    assert with_zero == VersionVector(x)
    assert hash(with_zero) == hash(VersionVector(x))
    assert "z" not in with_zero
    assert with_zero.get("z") == 0
    assert dict(with_zero) == {r: n for r, n in x.items() if n > 0}


@LAWS
@given(vectors, st.sampled_from(RIDS), st.integers(min_value=1, max_value=3))
def test_vv_increment(a: VersionVector, r: str, by: int) -> None:
    """`increment` advances one entry and leaves the vector it was called on unchanged."""
    before = dict(a)
    b = a.increment(r, by)
    assert b.get(r) == a.get(r) + by
    assert a < b
    assert dict(a) == before


# -- CausalContext ------------------------------------------------------------------------------


@LAWS
@given(st.lists(dots, max_size=20))
def test_context_contains_exactly_what_was_added(added: list[Dot]) -> None:
    """`contains` is true for the dots added and for no other dot."""
    ctx = context_of(added)
    assert model(ctx) == set(added)
    assert set(ctx.dots()) == set(added)
    assert len(list(ctx.dots())) == len(set(added))
    assert ctx.dot_count() == len(set(added))
    assert ctx.is_empty() is (not added)


@LAWS
@given(dot_sets, st.randoms(use_true_random=False))
def test_context_compaction_is_order_independent(
    dot_set: frozenset[Dot], rnd: random.Random
) -> None:
    """Adding dots in any order, with repeats, ends in the same compact form."""
    in_order = context_of(sorted(dot_set))
    shuffled = sorted(dot_set) * 2
    rnd.shuffle(shuffled)
    out_of_order = context_of(shuffled)
    vector, cloud = compact_form(dot_set)
    for ctx in (in_order, out_of_order):
        assert split(ctx) == (vector, cloud)
        assert_compact(ctx)
    assert in_order == out_of_order
    assert in_order.to_wire() == out_of_order.to_wire()


@LAWS
@given(vv_entries, dot_sets)
def test_context_constructor_compacts(vector: dict[str, int], cloud: frozenset[Dot]) -> None:
    """`CausalContext(vector, cloud)` holds the union and is compacted as gaps fill."""
    ctx = CausalContext(vector, cloud)
    expected = {Dot(r, k) for r, n in vector.items() for k in range(1, n + 1)} | set(cloud)
    assert model(ctx) == expected
    assert split(ctx) == compact_form(expected)
    assert CausalContext.of(cloud) == context_of(cloud)


@LAWS
@given(dot_sets, dot_sets)
def test_context_merge_is_union(x: frozenset[Dot], y: frozenset[Dot]) -> None:
    """`merge` joins in place to the union, compacted, and reports whether it grew."""
    ctx = context_of(x)
    grew = ctx.merge(context_of(y))
    assert model(ctx) == x | y
    assert split(ctx) == compact_form(x | y)
    assert_compact(ctx)
    assert grew is (not y <= x)


@LAWS
@given(st.lists(dot_sets, max_size=6))
def test_context_union_is_the_fold_of_merges(sets: list[frozenset[Dot]]) -> None:
    """`union` of many contexts is the union of their dots, compact, equal to merging them one
    by one into an empty context, and changes none of them."""
    contexts = [context_of(s) for s in sets]
    before = [c.copy() for c in contexts]
    union = CausalContext.union(contexts)
    folded = CausalContext()
    for c in contexts:
        folded.merge(c)
    assert union == folded
    assert model(union) == set().union(*sets)
    assert split(union) == compact_form(frozenset().union(*sets))
    assert_compact(union)
    assert contexts == before


@LAWS
@given(dot_sets, dot_sets, dot_sets)
def test_context_merge_is_a_join(x: frozenset[Dot], y: frozenset[Dot], z: frozenset[Dot]) -> None:
    """`merge` is commutative, associative and idempotent."""

    def merged(*sets: frozenset[Dot]) -> CausalContext:
        ctx = CausalContext()
        for s in sets:
            ctx.merge(context_of(s))
        return ctx

    assert merged(x, y) == merged(y, x)
    left = merged(x, y)
    left.merge(context_of(z))
    right = context_of(x)
    right.merge(merged(y, z))
    assert left == right
    again = context_of(x)
    assert again.merge(context_of(x)) is False
    assert again == context_of(x)


prefixes = st.dictionaries(st.sampled_from(RIDS[:3]), st.integers(min_value=0, max_value=8))


@LAWS
@given(prefixes, dot_sets, prefixes, dot_sets, st.booleans())
def test_context_minus_a_prefix_is_set_difference(
    va: dict[str, int], ca: frozenset[Dot], vb: dict[str, int], cb: frozenset[Dot], bare: bool
) -> None:
    """`minus` of contexts with prefixes (a replica's state against a delta, and back),
    where the other side holds only a prefix of some replicas (`bare`: of all of them)."""
    a = CausalContext(va, ca)
    b = CausalContext(vb, () if bare else cb)
    want = model(a) - model(b)
    missing = a.minus(b)
    assert model(missing) == want
    assert_compact(missing)
    assert a == CausalContext(va, ca) and b == CausalContext(vb, () if bare else cb)


@LAWS
@given(dot_sets, dot_sets)
def test_context_minus_is_set_difference(x: frozenset[Dot], y: frozenset[Dot]) -> None:
    """`minus` holds the dots of self that other lacks, and leaves both unchanged."""
    a, b = context_of(x), context_of(y)
    missing = a.minus(b)
    assert model(missing) == x - y
    assert_compact(missing)
    assert a == context_of(x) and b == context_of(y)


@LAWS
@given(dot_sets, dot_sets)
def test_context_covers_is_superset(x: frozenset[Dot], y: frozenset[Dot]) -> None:
    """`covers(other)` holds exactly when every dot of other is in self."""
    assert context_of(x).covers(context_of(y)) is (y <= x)


@LAWS
@given(dot_sets, st.sampled_from(RIDS), st.integers(min_value=1, max_value=5))
def test_next_dot_is_never_contained(x: frozenset[Dot], r: str, rounds: int) -> None:
    """`next_dot` never returns a dot the context holds, nor one issued before."""
    ctx = context_of(x)
    issued: set[Dot] = set()
    for _ in range(rounds):
        d = ctx.next_dot(r)
        assert d.replica == r
        assert not ctx.contains(d)
        assert d not in issued
        assert all(d.counter > other.counter for other in x if other.replica == r)
        issued.add(d)
        ctx.add(d)
    assert model(ctx) == set(x) | issued == set(ctx.dots())


@LAWS
@given(dot_sets)
def test_context_version_vector_is_max_per_replica(x: frozenset[Dot]) -> None:
    """The version vector of a context has, per replica, the highest counter it holds."""
    expected = {r: max(d.counter for d in x if d.replica == r) for r in {d.replica for d in x}}
    assert context_of(x).version_vector() == VersionVector(expected)


@LAWS
@given(dot_sets, dots)
def test_context_copy_is_independent(x: frozenset[Dot], extra: Dot) -> None:
    """Adding to a copy leaves the original unchanged."""
    original = context_of(x)
    clone = original.copy()
    clone.add(extra)
    assert model(original) == set(x)
    assert model(clone) == set(x) | {extra}


@LAWS
@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(1, 5)), max_size=4))
def test_context_of_few_dots_is_exact_and_compact(pairs: list[tuple[str, int]]) -> None:
    """`of` places one or two dots of a replica without sorting runs (a write's delta)."""
    dots = [Dot(r, n) for r, n in pairs]
    ctx = CausalContext.of(dots)
    assert model(ctx) == set(dots)
    assert_compact(ctx)
    assert ctx == context_of(dots)
