"""The hybrid logical clock never runs backwards and always moves past what it receives."""

from __future__ import annotations

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate.types import LWWRegister
from crdtstate.types.hlc import HybridLogicalClock, Timestamp

steps = st.lists(
    st.tuples(
        st.integers(0, 50),  # the wall clock, free to jump back and forth
        st.none() | st.tuples(st.integers(0, 60), st.integers(0, 5)),  # a received stamp
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_the_clock_never_goes_backwards_and_passes_every_received_stamp(plan) -> None:
    wall = iter([w for w, _ in plan])
    clock = HybridLogicalClock(wall=lambda: next(wall))
    last = Timestamp(-1, 0, "a")
    for w, received in plan:
        stamp = clock.now("a") if received is None else clock.update(received, "a")
        assert stamp[:2] > last[:2]
        assert stamp.l >= w
        if received is not None:
            assert stamp[:2] > received
        last = stamp


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10), st.integers(0, 10), st.sampled_from(["v", "w", 1]))
def test_lww_join_commutes_on_timestamp_ties(wall_a, wall_b, value) -> None:
    x, y = LWWRegister(), LWWRegister()
    dx = x.assign(value, replica="x", clock=HybridLogicalClock(wall=lambda: wall_a))
    dy = y.assign("other", replica="y", clock=HybridLogicalClock(wall=lambda: wall_b))
    xy, yx = x.copy(), y.copy()
    xy.merge(dy)
    yx.merge(dx)
    assert xy == yx and xy.value == yx.value
    expected = value if (wall_a, "x") > (wall_b, "y") else "other"
    assert xy.value == expected


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["v", "w", 1, 2.5, None]), min_size=2, max_size=4, unique=True))
def test_lww_writes_tied_on_stamp_and_writer_resolve_by_value_in_any_order(values) -> None:
    """Two runs sharing a writer name and a frozen clock can stamp writes alike: the join
    must still pick one value whatever the merge order (the largest encoded one)."""
    frozen = HybridLogicalClock(wall=lambda: 7)
    deltas = []
    for i, v in enumerate(values):
        writer = LWWRegister()
        writer.context.add_range("w", 1, i)  # has drawn i dots, observed none of the writes
        deltas.append(writer.assign(v, replica="w", clock=HybridLogicalClock(wall=lambda: 7)))
    forward, backward = LWWRegister(), LWWRegister()
    for delta in deltas:
        forward.merge(delta)
    for delta in reversed(deltas):
        backward.merge(delta)
    assert forward == backward
    assert forward.value == backward.value == max(values, key=lambda v: msgpack.packb(v))
    assert frozen.now("w")[:2] == (7, 0)  # every write above was stamped (7, 0)
