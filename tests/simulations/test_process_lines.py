"""The benchmarks' parent reads every node's result line at once (`last_lines`): a node whose
line outgrows the pipe must not freeze while the parent waits on another node."""

from __future__ import annotations

from pathlib import Path

import trio

from simulations.processes import Proc, last_lines

BIG = 1 << 20  # far beyond a pipe's 64 KiB

# Prints a line bigger than the pipe, then leaves a flag (only once the parent has read it).
WRITER = """
import json, pathlib, sys
print(json.dumps({"id": "writer", "pad": "x" * %d}), flush=True)
pathlib.Path(sys.argv[1]).touch()
"""

# Prints its line only after the writer got past its print: as a node that watches the
# writer completes only once the writer's event loop runs again.
WAITER = """
import json, pathlib, sys, time
while not pathlib.Path(sys.argv[1]).exists():
    time.sleep(0.01)
print(json.dumps({"id": "waiter"}), flush=True)
"""


async def test_a_node_with_a_line_bigger_than_the_pipe_does_not_hold_up_the_others(
    tmp_path: Path,
) -> None:
    flag = tmp_path / "writer-printed"
    (tmp_path / "writer.py").write_text(WRITER % BIG)
    (tmp_path / "waiter.py").write_text(WAITER)
    # The waiter first: read in turn, the writer would block in print forever.
    procs = [
        await Proc.start(str(tmp_path / "waiter.py"), str(flag)),
        await Proc.start(str(tmp_path / "writer.py"), str(flag)),
    ]
    try:
        with trio.fail_after(30):
            lines = await last_lines(procs)
    finally:
        for proc in procs:
            await proc.stop()
    assert [line["id"] for line in lines] == ["waiter", "writer"]
    assert len(lines[1]["pad"]) == BIG
