"""Joins of buffered groups, for the delta buffer (`crdtstate.buffer`): per object by its
kind's `join`, and kept per segment between collects, so that the sessions of several peers,
each collecting what the buffer gained at its own pace, join each group about once."""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from typing import TYPE_CHECKING

from . import codec
from .types import Crdt
from .types.causal import CausalCrdt
from .types.clocks import Dot
from .types.putdelta import FlatWrites, absorb_puts, is_unbuilt, materialize, merge_dots

if TYPE_CHECKING:
    from .buffer import DeltaGroup


ENTRY_OVERHEAD = 4  # an entry's list and string headers in msgpack
# dots a fold leaves aside for its context (`fold_into`), at most: each merge is one pass over
# the context's ranges, so per dot it costs O(ranges / MAX_UNMERGED), and the set stays small
MAX_UNMERGED = 32_768


def encoded_size(deltas: dict[str, Crdt]) -> int:
    """Bytes of the deltas as a delta frame carries them: [name, kind, payload] entries
    (the payloads packed exactly; names, kinds and msgpack headers counted, not packed)."""
    size = 0
    for name, delta in deltas.items():
        size += len(codec.pack(delta.to_wire())) + len(name) + len(delta.kind) + ENTRY_OVERHEAD
    return size


class SegmentJoins:
    """Joins of the runs of groups between the ends of earlier collects ("cuts"), kept until
    their groups leave the buffer: a collect is the join of its segments' joins, and a
    segment another collect already joined is not joined again."""

    __slots__ = ("_cuts", "_kept", "_low")

    def __init__(self) -> None:
        self._cuts: list[int] = []  # sorted: a collect ended after this sequence
        self._kept: dict[tuple[int, int], tuple[list[DeltaGroup], dict[str, Crdt]]] = {}
        self._low = math.inf  # the lowest first sequence of a kept segment

    def join(self, chosen: list[DeltaGroup]) -> dict[str, Crdt]:
        """The join, per object, of the deltas of `chosen` (oldest first)."""
        if not chosen:
            return {}
        results = [self._segment(segment) for segment in self._split(chosen)]
        end = chosen[-1].sequence
        i = bisect_left(self._cuts, end)
        if i == len(self._cuts) or self._cuts[i] != end:
            self._cuts.insert(i, end)
        return results[0] if len(results) == 1 else join_parts(results)

    def _split(self, chosen: list[DeltaGroup]) -> list[list[DeltaGroup]]:
        cuts = self._cuts
        i = bisect_left(cuts, chosen[0].sequence)
        segments: list[list[DeltaGroup]] = [[]]
        for group in chosen:
            while i < len(cuts) and cuts[i] < group.sequence:
                if segments[-1]:
                    segments.append([])
                i += 1
            segments[-1].append(group)
        return segments

    def _segment(self, groups: list[DeltaGroup]) -> dict[str, Crdt]:
        key = (groups[0].sequence, groups[-1].sequence)
        kept = self._kept.get(key)
        if kept is not None:
            kept_groups, kept_join = kept
            if len(kept_groups) == len(groups) and all(map(operator.is_, kept_groups, groups)):
                return kept_join
        joined = join_parts([group.deltas for group in groups])
        self._kept[key] = (groups, joined)
        self._low = min(self._low, key[0])
        return joined

    def forget(self, group: DeltaGroup) -> None:
        """`group` left the buffer (the oldest do): segments from it on are not needed."""
        sequence = group.sequence
        if sequence >= self._low:
            self._kept = {k: v for k, v in self._kept.items() if k[0] > sequence}
            self._low = min((k[0] for k in self._kept), default=math.inf)
        if self._cuts and self._cuts[0] < sequence:
            del self._cuts[: bisect_left(self._cuts, sequence)]


def join_parts(parts: list[dict[str, Crdt]]) -> dict[str, Crdt]:
    """Per object, the join of its deltas in `parts` (by its kind's `join`, which hands back
    a lone delta itself)."""
    return {name: join_deltas(deltas) for name, deltas in deltas_by_name(parts).items()}


def join_deltas(deltas: list[Crdt]) -> Crdt:
    """The join of one object's `deltas`, none of them changed (a lone one handed back)."""
    return _join_class(deltas).join(deltas)


def _join_class(deltas: list[Crdt]) -> type[Crdt]:
    """The class whose `join` joins `deltas`: the first's, unless another is an unbuilt put
    (`PutDelta.join` joins those without building them, the rest as the map's join would)."""
    first = type(deltas[0])
    if len(deltas) > 1 and not is_unbuilt(deltas[0]):
        for delta in deltas:
            if is_unbuilt(delta):
                return type(delta)
    return first


def deltas_by_name(parts: list[dict[str, Crdt]]) -> dict[str, list[Crdt]]:
    """Per object, its deltas in `parts`, in order."""
    by_name: dict[str, list[Crdt]] = {}
    for deltas in parts:
        for name, delta in deltas.items():
            by_name.setdefault(name, []).append(delta)
    return by_name


def join_owned(deltas: list[Crdt], *, owned: bool) -> Crdt:
    """The join of `deltas`, never changing one of them, except the first when `owned` (a
    previous fold's own join: no copy of a fold as big as the state). A document's join
    stays `Document.join`, which keeps every update side by side."""
    first = deltas[0]
    if not isinstance(first, CausalCrdt):
        return type(first).join(deltas)
    joined = first if owned else first.copy()
    for delta in deltas[1:]:
        joined.merge(delta)
    return joined


class FoldLedger:
    """What a buffer fold keeps beside its deltas, per object: the dots it absorbed and left
    aside for its maps' contexts (`unmerged`), the writes it kept flat for their stores
    (`flat`), and the bytes counted for each write in their stores (`sizes`, taken off when
    one is overwritten)."""

    __slots__ = ("flat", "sizes", "unmerged")

    def __init__(self) -> None:
        self.unmerged: dict[str, set[Dot]] = {}
        self.flat: dict[str, FlatWrites] = {}
        self.sizes: dict[str, dict[Dot, int]] = {}

    def settle(self, deltas: dict[str, Crdt]) -> None:
        """Make the fold's maps in `deltas` whole: the dots left aside merged into their
        contexts, the writes kept flat put in their stores; both taken out."""
        for name, delta in deltas.items():
            writes = self.flat.pop(name, None)
            if writes:
                materialize(delta, writes, self.sizes.setdefault(name, {}))
            dots = self.unmerged.pop(name, None)
            if dots:
                merge_dots(delta.context, dots)  # type: ignore[attr-defined]


def fold_into(deltas: dict[str, Crdt], ledger: FoldLedger, by_name: dict[str, list[Crdt]]) -> int:
    """Join the deltas `by_name` into a fold's own `deltas` (a previous fold's, or empty),
    in place; about the bytes that adds (`encoded_size`, or `absorb_puts`' count).

    Unbuilt map puts and deletes are absorbed without being built, their dots and writes
    kept in the `ledger` (the fold puts them in its maps when read: `FoldLedger.settle`);
    the rest (a peer's groups, other types, and the puts a push already read) are joined,
    into an object of the fold's own, then into the fold's, which is joined into in place
    (no delta given is ever changed)."""
    unmerged, sizes, flat = ledger.unmerged, ledger.sizes, ledger.flat
    size = 0
    for name, parts in by_name.items():
        mine = deltas.get(name)
        unbuilt = [part for part in parts if is_unbuilt(part)] if mine is not None else []
        if unbuilt:
            left = unmerged.setdefault(name, set())
            writes = flat.setdefault(name, {})
            absorbed = absorb_puts(mine, unbuilt, left, sizes.setdefault(name, {}), writes)
            if len(left) > MAX_UNMERGED:  # memory that grows with the updates: merged now
                merge_dots(mine.context, unmerged.pop(name))  # type: ignore[union-attr]
            elif not left:
                del unmerged[name]
            if not writes:
                del flat[name]
            if absorbed is not None:
                added, count = absorbed
                size += added
                # the rest (a delete of an absent key is an empty delta: nothing to join)
                built = [part for part in parts if not is_unbuilt(part) and not part.is_bottom()]
                parts = unbuilt[count:] + built
                if not parts:
                    continue
        if mine is not None:  # joined pairwise below: its context and store first
            ledger.settle({name: mine})
        sizes.pop(name, None)  # (the join may drop writes counted there: never taken off)
        fresh = parts[0].copy() if len(parts) == 1 else join_deltas(parts)
        size += encoded_size({name: fresh})
        deltas[name] = fresh if mine is None else join_owned([mine, fresh], owned=True)
    return size
