"""A child process that prints one JSON object per line: its first line (`info`) says how to
reach it, later lines report its status (`status` keeps the latest)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Self

import trio

from simulations.processes import JsonLines

ROOT = Path(__file__).resolve().parent.parent


class StatusProcess:
    def __init__(self, process: trio.Process) -> None:
        assert process.stdout is not None
        self.process = process
        self.info: dict[str, Any] = {}
        self.status: dict[str, Any] = {}
        self.status_lines = 0  # how many status lines it printed
        self._lines = JsonLines(process.stdout)

    @classmethod
    async def start(
        cls, nursery: trio.Nursery, script: Path, *args: str, timeout: float = 30
    ) -> Self:
        """Start `script`, wait for its first line, then follow its status lines."""
        process = await trio.lowlevel.open_process(
            [sys.executable, str(script), *args], stdout=subprocess.PIPE, cwd=ROOT
        )
        child = cls(process)
        with trio.fail_after(timeout):  # a hang guard for a child that never starts
            child.info = await child._lines.next()
        nursery.start_soon(child._follow)
        return child

    async def _follow(self) -> None:
        try:
            while True:
                self.status = await self._lines.next()
                self.status_lines += 1
        except (EOFError, trio.ClosedResourceError):
            return

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()
