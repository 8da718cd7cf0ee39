"""Sets of positive integers as sorted, disjoint, non-adjacent inclusive ranges.

Causal contexts keep each replica's out-of-order dots this way, so that every operation costs
O(ranges), never O(counter values): a hostile 20-byte context claiming dot 2**62 stays cheap.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

Ranges = list[tuple[int, int]]


def contains(ranges: Ranges, n: int) -> bool:
    i = bisect_right(ranges, (n, float("inf"))) - 1
    return i >= 0 and ranges[i][0] <= n <= ranges[i][1]


def add(ranges: Ranges, lo: int, hi: int) -> bool:
    """Insert [lo, hi] in place, coalescing neighbours; return whether anything was new."""
    if lo > hi:
        return False
    i = bisect_right(ranges, (lo, float("inf")))
    # Step back to a range that overlaps or touches [lo, hi] from the left.
    if i > 0 and ranges[i - 1][1] >= lo - 1:
        i -= 1
    j = i
    new_lo, new_hi = lo, hi
    covered = 0
    while j < len(ranges) and ranges[j][0] <= hi + 1:
        a, b = ranges[j]
        covered += max(0, min(b, hi) - max(a, lo) + 1)
        new_lo, new_hi = min(new_lo, a), max(new_hi, b)
        j += 1
    ranges[i:j] = [(new_lo, new_hi)]
    return covered < hi - lo + 1


def subtract(ranges: Ranges, holes: Ranges) -> Ranges:
    """The numbers of `ranges` not in `holes` (canonical: sorted, non-adjacent, when both are)."""
    out: Ranges = []
    j = 0
    for lo, hi in ranges:
        while j < len(holes) and holes[j][1] < lo:
            j += 1
        k = j
        start = lo
        while k < len(holes) and holes[k][0] <= hi:
            if holes[k][0] > start:
                out.append((start, holes[k][0] - 1))
            start = max(start, holes[k][1] + 1)
            k += 1
        if start <= hi:
            out.append((start, hi))
    return out


def size(ranges: Ranges) -> int:
    return sum(hi - lo + 1 for lo, hi in ranges)


def numbers(ranges: Ranges) -> Iterator[int]:
    for lo, hi in ranges:
        yield from range(lo, hi + 1)


def from_numbers(values: Iterable[int]) -> Ranges:
    ranges: Ranges = []
    for n in sorted(set(values)):
        if ranges and ranges[-1][1] == n - 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return ranges
