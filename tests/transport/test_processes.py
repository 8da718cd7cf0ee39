"""Replicas in separate OS processes: convergence, and a peer killed with SIGKILL that
comes back, while the survivors keep updating."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

NODE = Path(__file__).with_name("updating_node.py")
ROOT = Path(__file__).resolve().parents[2]


class Node:
    """A running `updating_node.py` and the latest status line it printed."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.status: dict[str, Any] = {}
        self.url = ""
        self._pending = b""

    @classmethod
    async def start(cls, nursery: trio.Nursery, *args: str) -> Node:
        process = await trio.lowlevel.open_process(
            [sys.executable, str(NODE), *args], stdout=subprocess.PIPE, cwd=ROOT
        )
        node = cls(process)
        with trio.fail_after(20):
            node.url = (await node._line())["url"]
        nursery.start_soon(node._follow)
        return node

    async def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while b"\n" not in self._pending:
            chunk = await self.process.stdout.receive_some(65536)
            if not chunk:
                raise EOFError("node exited")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)

    async def _follow(self) -> None:
        try:
            while True:
                self.status = await self._line()
        except (EOFError, trio.ClosedResourceError):
            return

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()


async def wait_until(condition: Any, nodes: list[Node], timeout: float = 60) -> None:
    """Poll `condition`; on timeout fail with every node's last status, for diagnosis."""
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(0.02)
        return
    raise AssertionError(f"timed out; last statuses: {[n.status for n in nodes]}")


async def test_three_processes_converge_through_a_sigkill_and_restart() -> None:
    async with trio.open_nursery() as nursery:
        a = await Node.start(nursery, "--id", "a", "--updates", "1000")
        b = await Node.start(nursery, "--id", "b", "--updates", "1000", "--peer", a.url)
        c = await Node.start(
            nursery, "--id", "c", "--updates", "400", "--peer", a.url, "--peer", b.url
        )
        nodes = [a, b, c]
        try:
            await wait_until(lambda: all(len(n.status.get("peers", [])) == 2 for n in nodes), nodes)
            await wait_until(lambda: c.status.get("made", 0) >= 50, nodes)
            c.kill()
            await c.process.wait()
            assert c.process.returncode == -signal.SIGKILL
            made_at_kill = {n.status["id"]: n.status["made"] for n in (a, b)}
            assert max(made_at_kill.values()) <= 900, "the survivors must still be updating"

            # The survivors keep updating while c is dead: never blocked by it.
            await wait_until(
                lambda: all(n.status["made"] >= made_at_kill[n.status["id"]] + 100 for n in (a, b)),
                nodes,
            )
            await wait_until(
                lambda: (
                    a.status["digest"] == b.status["digest"]
                    and a.status["made"] == 1000
                    and b.status["made"] == 1000
                ),
                nodes,
            )
            assert a.status["peers"] == ["b"] and b.status["peers"] == ["a"]

            # c comes back (in memory, so under a new id: its old dots must never be reused).
            c2 = await Node.start(nursery, "--id", "c2", "--peer", a.url, "--peer", b.url)
            nodes = [a, b, c2]
            await wait_until(lambda: len({n.status.get("digest") for n in nodes}) == 1, nodes)
            # Everything a and b made is everywhere; c's pre-crash updates that reached them too.
            assert c2.status["hits"] == a.status["hits"] == b.status["hits"] >= 2000
        finally:
            for node in [*nodes, c]:
                await node.stop()
            nursery.cancel_scope.cancel()
