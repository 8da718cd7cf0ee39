"""The delta buffer's byte bound when local groups are measured later, in batches."""

from __future__ import annotations

from crdtstate.buffer import MEASURE_EVERY, DeltaBuffer, encoded_size
from crdtstate.types import GCounter


def counter_group(n: int) -> dict[str, GCounter]:
    return {"hits": GCounter({"writer": n})}


def test_a_received_group_is_measured_and_bounded_at_once() -> None:
    one = encoded_size(counter_group(1))
    buffer = DeltaBuffer(max_bytes=2 * one)
    for n in range(1, 6):
        buffer.append("peer", counter_group(n))
        assert len(buffer) <= 2
    assert buffer.dropped_for_bound == 3
    assert buffer.floor == 3


def test_local_groups_are_bounded_within_a_batch_without_anyone_reading_bytes() -> None:
    one = encoded_size(counter_group(1))
    buffer = DeltaBuffer(max_bytes=10 * one)
    for n in range(1, MEASURE_EVERY):
        buffer.append("me", counter_group(n), deferred=True)
    assert len(buffer) == MEASURE_EVERY - 1  # nothing measured yet
    buffer.append("me", counter_group(MEASURE_EVERY), deferred=True)
    assert len(buffer) <= 10
    assert buffer.floor == buffer.sequence - len(buffer)


def test_reading_bytes_measures_and_applies_the_bound() -> None:
    sizes = [encoded_size(counter_group(n)) for n in range(1, 21)]
    buffer = DeltaBuffer(max_bytes=sum(sizes[-5:]))
    for n in range(1, 21):
        buffer.append("me", counter_group(n), deferred=True)
    assert buffer.bytes == sum(sizes[-5:])
    assert len(buffer) == 5
    assert [g.sequence for g in buffer.groups_after(0)] == [16, 17, 18, 19, 20]


def test_discarding_unmeasured_groups_keeps_the_count_right() -> None:
    one = encoded_size(counter_group(1))
    buffer = DeltaBuffer(max_bytes=1000 * one)
    for n in range(1, 11):
        buffer.append("me", counter_group(n), deferred=True)
    buffer.discard_through(10)  # every peer acknowledged them, none ever measured
    assert len(buffer) == 0
    for n in range(11, 10 + MEASURE_EVERY):
        buffer.append("me", counter_group(n), deferred=True)
    group = buffer.groups_after(0)[0]
    assert group.size is None  # the discarded ten no longer count towards the batch
    buffer.append("me", counter_group(10 + MEASURE_EVERY), deferred=True)
    assert group.size == encoded_size(group.deltas)  # the batch was measured, none skipped
    assert buffer.bytes == sum(encoded_size(g.deltas) for g in buffer.groups_after(0))


def test_a_received_group_measures_only_itself() -> None:
    buffer = DeltaBuffer()
    for n in range(1, 11):
        buffer.append("me", counter_group(n), deferred=True)
    buffer.append("peer", counter_group(11))
    groups = buffer.groups_after(0)
    assert [g.size for g in groups[:10]] == [None] * 10  # the local ones wait for their batch
    assert groups[10].size == encoded_size(counter_group(11))
    assert buffer.bytes == sum(encoded_size(counter_group(n)) for n in range(1, 12))


def test_collect_reuses_earlier_results_and_still_joins_exactly_the_groups_chosen() -> None:
    """Collects of overlapping ranges (two peers' sessions, pushing at different moments)
    equal the plain join of the groups each picks, whatever results were kept before."""
    import random

    from crdtstate import AWSet

    rng = random.Random(7)
    buffer = DeltaBuffer()
    tags = AWSet()
    for n in range(1, 200):
        origin = rng.choice(["me", "me", "peer"])
        delta = tags.add(n % 23, replica=origin)
        if n % 5 == 0:
            delta.merge(tags.remove((n + 7) % 23, replica=origin))
        buffer.append(origin, {"tags": delta, "hits": GCounter({origin: n})})
        if n % 7 == 0:
            buffer.discard_through(n - rng.randrange(5, 40))
            held_now = buffer.groups_after(0)
            assert buffer.bytes == sum(encoded_size(g.deltas) for g in held_now)
            assert all(g.sequence > buffer.floor for g in held_now)
        for _ in range(2):
            after = rng.randrange(buffer.floor, buffer.sequence + 1)
            exclude = rng.choice([None, "peer"])
            held = {s for s in range(after, n + 1) if rng.random() < 0.1}
            got = buffer.collect(after, exclude_origin=exclude, held=held)
            chosen = [
                g
                for g in buffer.groups_after(after)
                if g.origin != exclude and g.sequence not in held
            ]
            for name in ("tags", "hits"):
                parts = [g.deltas[name] for g in chosen]
                if not parts:
                    assert name not in got
                    continue
                want = parts[0].copy()
                for part in parts[1:]:
                    want.merge(part)
                assert got[name] == want
