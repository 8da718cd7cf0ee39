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


def test_a_received_group_measures_only_itself_or_takes_its_given_size() -> None:
    buffer = DeltaBuffer()
    for n in range(1, 11):
        buffer.append("me", counter_group(n), deferred=True)
    buffer.append("peer", counter_group(11))
    buffer.append("peer", counter_group(12), size=1000)
    groups = buffer.groups_after(0)
    assert [g.size for g in groups[:10]] == [None] * 10  # the local ones wait for their batch
    assert groups[10].size == encoded_size(counter_group(11))
    assert groups[11].size == 1000
    assert buffer.bytes == sum(encoded_size(counter_group(n)) for n in range(1, 12)) + 1000
