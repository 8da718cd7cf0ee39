"""The hybrid logical clock never runs backwards and always moves past what it receives."""

from __future__ import annotations

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
