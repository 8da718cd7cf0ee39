"""A set of dots on the wire as per-replica runs: `[[replica, [gap, length, ...]], ...]`.

Used for the dots a digest says its store holds. Those are mostly long runs (an add-only set
holds 1..n of each replica) broken by removals, so a run costs two small integers: the gap
since the end of the previous run (the first run's gap counts from 0) and its length. One
replica id per replica, not per run, keeps a fragmented set compact however long the ids are.

Decoding is strict and canonical (replicas strictly ascending, runs non-empty and separated by
at least one missing dot), and costs O(runs), never O(dots): a run may claim 2**62 dots.
"""

from __future__ import annotations

from typing import Any

from ..errors import DecodeError
from . import intervals, wire
from .clocks import CausalContext


def flat(ranges: intervals.Ranges) -> list[int]:
    """Sorted, non-adjacent ranges as [gap, length, ...] (the first gap counts from 0)."""
    out: list[int] = []
    end = 0
    for lo, hi in ranges:
        out += (lo - end - 1, hi - lo + 1)
        end = hi
    return out


def add_flat(dots: CausalContext, replica: str, runs: list[Any], what: str) -> None:
    """Add `replica`'s dots given as canonical flat runs; anything else raises `DecodeError`."""
    if not runs or len(runs) % 2:
        raise DecodeError(f"{what}: {replica!r} needs (gap, length) pairs, got {len(runs)}")
    end = 0
    ranges: intervals.Ranges = []
    for i in range(0, len(runs), 2):
        gap = wire.expect_count(runs[i], what)
        length = wire.expect_count(runs[i + 1], what)
        if i and gap == 0:
            raise DecodeError(f"{what}: runs of {replica!r} touch (not canonical)")
        if length == 0:
            raise DecodeError(f"{what}: an empty run of {replica!r}")
        lo = end + gap + 1
        end = lo + length - 1
        if end > wire.MAX_COUNTER:
            raise DecodeError(f"{what}: a run of {replica!r} passes the largest counter")
        ranges.append((lo, end))
    if replica in dots.vector or replica in dots.cloud:
        for lo, hi in ranges:
            dots.add_range(replica, lo, hi)
    else:  # (every caller's case) sorted and apart, checked above: placed as they are
        dots._put_ranges(replica, ranges)


def to_wire(dots: CausalContext) -> list[list[Any]]:
    """The canonical run form of `dots` (same set, same bytes)."""
    return [[replica, flat(dots.ranges(replica))] for replica in sorted(dots.replicas())]


def from_wire(obj: Any, what: str = "dot runs") -> CausalContext:
    """Validate the run form and build the set; anything malformed raises `DecodeError`."""
    entries = wire.expect_list(obj, what)
    pairs = [wire.expect_list(entry, what, length=2) for entry in entries]
    if sum(len(runs) // 2 for _, runs in pairs if isinstance(runs, list)) > wire.MAX_CLOUD_RANGES:
        raise DecodeError(f"{what}: more than {wire.MAX_CLOUD_RANGES} runs")
    dots = CausalContext()
    previous: str | None = None
    for raw_replica, raw_runs in pairs:
        replica = wire.replica_id(raw_replica, what)
        if previous is not None and replica <= previous:
            raise DecodeError(f"{what}: replica {replica!r} is repeated or out of order")
        previous = replica
        add_flat(dots, replica, wire.expect_list(raw_runs, what), what)
    return dots
