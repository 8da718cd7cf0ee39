"""A child process that prints one JSON object per line: its first line (`info`) says how to
reach it, later lines report its status (`status` keeps the latest)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Self

import trio

ROOT = Path(__file__).resolve().parent.parent


class StatusProcess:
    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.info: dict[str, Any] = {}
        self.status: dict[str, Any] = {}
        self.status_lines = 0  # how many status lines it printed
        self._pending = b""

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
            child.info = await child._line()
        nursery.start_soon(child._follow)
        return child

    async def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while b"\n" not in self._pending:
            chunk = await self.process.stdout.receive_some(65536)
            if not chunk:
                raise EOFError("the child process exited")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)

    async def _follow(self) -> None:
        try:
            while True:
                self.status = await self._line()
                self.status_lines += 1
        except (EOFError, trio.ClosedResourceError):
            return

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()
