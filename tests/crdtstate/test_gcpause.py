"""The collector pause used around bulk copies and encodes: nests, overlaps, restores."""

from __future__ import annotations

import gc
import threading

import pytest

from crdtstate import AWSet, Document, Replica, codec
from crdtstate.gcpause import gc_paused

pytestmark = pytest.mark.anyio


def test_pauses_nest_and_restore_the_collector_only_if_it_was_enabled() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still running
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_overlapping_pauses_in_two_threads_end_with_the_collector_on() -> None:
    inside, leave = threading.Event(), threading.Event()

    def worker() -> None:
        with gc_paused():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(10)
    with gc_paused():
        leave.set()
        thread.join(10)
        assert not gc.isenabled()  # the worker's pause ended, ours has not
    assert gc.isenabled()


async def test_snapshot_rows_hold_the_state_of_the_moment_they_were_frozen() -> None:
    """The rows are encoded later, in a worker thread: they must come from copies."""
    async with Replica.open("a") as a:
        tools = a.container("tools", AWSet)
        notes = a.container("notes", Document)
        await tools.update(lambda s: s.add("search"))
        await notes.update(lambda d: d.text("body").insert(0, "one"))
        await notes.update(lambda d: d.text("body").insert(3, " two"))
        encode = a._freeze_states(["notes", "tools"])
        await tools.update(lambda s: s.add("later"))
        await notes.update(lambda d: d.text("body").insert(0, "later "))
        rows = {name: codec.decode(blob) for name, _, blob, _ in encode()}
        assert rows["tools"].value == frozenset({"search"})
        assert dict(rows["notes"].value) == {"body": "one two"}
