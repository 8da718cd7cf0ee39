"""One replica process of the fault run, as the parent sees it: started with its share of
the updates, followed through its status lines, SIGKILLed, or asked to stop."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from .plan import REPLICAS

if TYPE_CHECKING:
    from .run import FaultConfig

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # hang guards: a process that does not come up or stop in this long
STOP_TIMEOUT = 60.0


class ReplicaProcess:
    """One replica process: started, followed through its status lines, killed or stopped."""

    def __init__(self, index: int, workdir: Path, config: FaultConfig, peers: list[str]) -> None:
        self.index = index
        self.db = workdir / f"r{index}.db"
        self.ledger = workdir / f"r{index}.ledger"
        self.config = config
        self.peers = peers
        self.share = config.updates // REPLICAS + (index < config.updates % REPLICAS)
        self.run = -1
        self.acked_before = 0  # updates its earlier runs returned from
        self.process: trio.Process | None = None
        self.status: dict[str, Any] = {}
        self.port = 0
        self.expected_exit = False
        self.exited = trio.Event()

    @property
    def alive(self) -> bool:
        return self.process is not None and not self.exited.is_set()

    @property
    def acked(self) -> int:
        return self.acked_before + (self.status.get("acked", 0) if self.alive else 0)

    @property
    def working(self) -> bool:
        return self.alive and not self.status.get("done", False)

    def count_acked(self) -> None:
        """What its runs so far returned from, from its ledger (while it is not running)."""
        text = self.ledger.read_text() if self.ledger.exists() else ""
        self.acked_before = sum(line.startswith("D ") for line in text.splitlines())

    async def start(self, nursery: trio.Nursery, listening: Callable[[int], None]) -> None:
        """Start the next run; `listening(port)` is called once it listens (in the background:
        meanwhile the run goes on, and a kill may hit it during its recovery)."""
        self.run += 1
        self.count_acked()
        self.status, self.expected_exit, self.exited = {}, False, trio.Event()
        args = [
            *("--index", str(self.index), "--db", str(self.db), "--ledger", str(self.ledger)),
            *("--run", str(self.run), "--quota", str(self.share - self.acked_before)),
            *("--seed", str(self.config.seed), "--tasks", str(self.config.tasks)),
            *("--rate", str(self.config.rate)),
            *(arg for peer in self.peers for arg in ("--peer", peer)),
        ]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        with open(self.db.with_name(f"r{self.index}.run{self.run}.log"), "wb") as log:
            self.process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "simulations.faults.node", *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=ROOT,
                env=env,
            )
        nursery.start_soon(self._follow, self.process, self.exited, listening)

    async def _follow(
        self, process: trio.Process, exited: trio.Event, listening: Callable[[int], None]
    ) -> None:
        """Read its first line (the URL), then its status lines, until it exits."""
        assert process.stdout is not None
        pending, first = b"", True
        try:
            with trio.fail_after(START_TIMEOUT) as starting:  # a hang guard for a stuck start
                while chunk := await process.stdout.receive_some(65536):
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        message = json.loads(line)
                        if first:
                            first, starting.deadline = False, math.inf
                            self.port = int(message["url"].rsplit(":", 1)[1])
                            listening(self.port)
                        else:
                            self.status = message
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        await process.wait()
        self.count_acked()
        exited.set()

    async def kill(self) -> int:
        assert self.process is not None
        self.expected_exit = True
        self.process.send_signal(signal.SIGKILL)
        await self.exited.wait()
        return self.process.returncode

    async def stop(self) -> bool:
        """Ask it to close cleanly; SIGKILL it if it does not within STOP_TIMEOUT (and return
        False: its database then holds only what it committed)."""
        assert self.process is not None and self.process.stdin is not None
        self.expected_exit = True
        if not self.exited.is_set():
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.process.stdin.send_all(b"stop\n")
        with trio.move_on_after(STOP_TIMEOUT):
            await self.exited.wait()
        if self.exited.is_set():
            return True
        await self.kill()
        return False
