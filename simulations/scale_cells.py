"""The scale benchmark's cells as processes (`scale_worker.py --hold`): each builds its state
and waits, so `bench_scale` builds every size of a round first and then times them back to
back. A shared VM's speed drifts about 2x over minutes; a cell of 1k keys timed a minute
before one of 1M keys (its build's minute) read the same code's growth anywhere from 1.2x to
2.7x. Timed within seconds of each other, the sizes see the same machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Cell:
    impl: str
    size: int
    build: dict[str, float] = field(default_factory=dict)
    mean_us: dict[str, float] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, float] = field(default_factory=dict)  # op -> estimated us
    error: str | None = None


class HeldCell:
    """A worker process of one cell: `build()` starts it and returns once its state is built
    (it then waits, idle); `run(ops)` times `ops` on it and ends it."""

    def __init__(self, impl: str, size: int, args: Any, on_step: Any) -> None:
        self.cell = Cell(impl, size)
        self._args = args
        self._on_step = on_step  # (cell, step name) -> None, for progress
        self._stderr: IO[str] | None = None
        self._process: subprocess.Popen[str] | None = None

    def build(self) -> Cell:
        path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        args, cell = self._args, self.cell
        command = [
            sys.executable, "-m", "simulations.scale_worker", "--impl", cell.impl,
            "--size", str(cell.size), "--budget", str(args.budget),
            "--min-ops", str(args.min_ops), "--hold",
        ]  # fmt: skip
        # a file: a chatty worker cannot block on it; closed by `run` or `close`
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**os.environ, "PYTHONPATH": path},
            cwd=ROOT,
        )
        self._read(until_build=True)
        return cell

    def run(self, ops: list[str]) -> Cell:
        process = self._process
        assert process is not None and process.stdin is not None
        if process.poll() is None:
            try:
                process.stdin.write(",".join(ops) + "\n")
                process.stdin.close()
            except BrokenPipeError:
                pass  # (it died: its error is read below)
            self._read(until_build=False)
        process.wait()
        self._finish()
        return self.cell

    def close(self) -> None:
        """End the worker if it is still waiting (an interrupted run)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _read(self, *, until_build: bool) -> None:
        assert self._process is not None and self._process.stdout is not None
        cell = self.cell
        for line in self._process.stdout:
            fields = json.loads(line)
            step = fields.pop("step")
            if step == "build":
                cell.build = fields
            else:
                cell.mean_us[step] = fields["mean_us"]
                cell.samples[step] = fields["n"]
            self._on_step(cell, step)
            if until_build and step == "build":
                return
        if until_build:  # ended before its build was done
            self._process.wait()
            self._finish()

    def _finish(self) -> None:
        """Once the worker has ended: its error (stderr's last line), if it failed."""
        assert self._process is not None
        if self._stderr is None:
            return  # (already read: it ended during its build)
        if self._process.returncode:
            self._stderr.seek(0)
            lines = self._stderr.read().strip().splitlines()
            self.cell.error = (lines or [f"exit {self._process.returncode}"])[-1]
        self._stderr.close()
        self._stderr = None
