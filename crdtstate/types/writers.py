"""Causal payloads name each writer once: dots on the wire as (writer index, counter).

Format 2 of a causal type's payload is `[writers, store, context]`: `writers` the sorted
replica names of its causal context, `context` a list parallel to it holding each writer's
dots as runs (`crdtstate.types.runs`: gap, length, ...), and every dot in `store` a pair
`[writer index, counter]`. An in-memory replica writes under a name such as `id~xxxxxxxx`, and
format 1 repeated it in every dot and every context range (about 12 bytes each, most of a small
delta); an index costs one byte. Digests use the same table: `[writers, seen, held]`.

Decoding is strict and canonical (names strictly ascending, every name used by the context,
indices in range) and costs O(runs), never O(dots), like `runs.from_wire`.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..errors import DecodeError
from . import runs, wire
from .clocks import CausalContext, Dot

WriterIndex = dict[str, int]
_new_tuple = tuple.__new__


def table(ctx: CausalContext) -> tuple[list[str], WriterIndex]:
    """The writers of `ctx` in canonical (sorted) order, and each one's index."""
    vector, cloud = ctx.vector, ctx.cloud
    names = sorted(vector if not cloud else cloud if not vector else vector.keys() | cloud)
    return names, {name: i for i, name in enumerate(names)}


def dots_to_wire(dots: CausalContext, names: list[str]) -> list[list[int]]:
    """Per name (parallel to `names`), its dots in `dots` as flat runs (maybe none): the
    prefix, then the ranges above it (`runs.flat` of `dots.ranges(name)`, inline: every
    delta a replica measures or sends is encoded through here)."""
    vector, cloud = dots.vector, dots.cloud
    out: list[list[int]] = []
    for name in names:
        top = vector.get(name, 0)
        flat = [0, top] if top else []  # the prefix 1..top: gap 0, length top
        end = top
        for lo, hi in cloud.get(name, ()):
            flat += (lo - end - 1, hi - lo + 1)
            end = hi
        out.append(flat)
    return out


def names_from_wire(obj: Any, what: str) -> list[str]:
    names = [wire.replica_id(raw, what) for raw in wire.expect_list(obj, what)]
    if any(a >= b for a, b in itertools.pairwise(names)):
        raise DecodeError(f"{what}: writer names are repeated or out of order")
    return names


def dots_from_wire(obj: Any, names: list[str], what: str, *, every: bool) -> CausalContext:
    """The dots of runs parallel to `names`; with `every`, no name may be left without."""
    per_name = wire.expect_list(obj, what, length=len(names))
    lists = [wire.expect_list(item, what) for item in per_name]
    if sum(len(item) // 2 for item in lists) > wire.MAX_CLOUD_RANGES:
        raise DecodeError(f"{what}: more than {wire.MAX_CLOUD_RANGES} runs")
    dots = CausalContext()
    for name, flat in zip(names, lists, strict=True):
        if not flat and not every:
            continue
        runs.add_flat(dots, name, flat, what)
    return dots


def context_to_wire(ctx: CausalContext) -> tuple[list[str], WriterIndex, list[list[int]]]:
    names, index = table(ctx)
    return names, index, dots_to_wire(ctx, names)


def context_from_wire(raw_names: Any, raw_runs: Any, what: str) -> tuple[list[str], CausalContext]:
    names = names_from_wire(raw_names, f"{what} writers")
    return names, dots_from_wire(raw_runs, names, f"{what} context", every=True)


class DotClaims:
    """Reads a store's dots against its context: each must be in it and used once.

    `names` is the payload's writer table (format 2: a dot is [index, counter]); None reads
    format 1, where a dot is [replica name, counter].
    """

    __slots__ = ("ctx", "names", "seen")

    def __init__(self, ctx: CausalContext, names: list[str] | None) -> None:
        self.ctx = ctx
        self.names = names
        self.seen: set[Dot] = set()

    def claim(self, raw: Any) -> Dot:
        names = self.names
        if names is not None and type(raw) is list and len(raw) == 2:
            # the common case, read inline (every received dot): [index, counter], plain
            # ints in range; anything else takes `read`, which names what is wrong
            writer, counter = raw
            if (
                type(writer) is int
                and type(counter) is int
                and 0 <= writer < len(names)
                and 1 <= counter <= wire.MAX_COUNTER
            ):
                d = _new_tuple(Dot, (names[writer], counter))
                if d in self.seen or not self.ctx.contains(d):
                    raise DecodeError("a dot is repeated or outside the context")
                self.seen.add(d)
                return d
        d = self.read(raw)
        if d in self.seen or not self.ctx.contains(d):
            raise DecodeError("a dot is repeated or outside the context")
        self.seen.add(d)
        return d

    def read(self, raw: Any) -> Dot:
        if self.names is None:
            return wire.dot(raw)
        writer, counter = wire.expect_list(raw, "dot", length=2)
        i = wire.expect_count(writer, "dot writer")
        if i >= len(self.names):
            raise DecodeError(f"dot: writer {i} is not in the table of {len(self.names)}")
        return Dot(self.names[i], wire.expect_count(counter, "dot", minimum=1))
