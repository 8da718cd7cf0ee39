"""Replicas in separate OS processes: convergence, and a peer killed with SIGKILL that
comes back, while the survivors keep updating. One process runs on trio, the others on
asyncio: the two websockets implementations speak to each other in one mesh."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import trio

from ..status_process import StatusProcess

NODE = Path(__file__).with_name("updating_node.py")
ASYNCIO = ("--backend", "asyncio")


class Node(StatusProcess):
    """A running `updating_node.py`: `url` to dial it, `status` its latest line."""

    url = ""

    @classmethod
    async def launch(cls, nursery: trio.Nursery, *args: str) -> Node:
        node = await cls.start(nursery, NODE, *args, timeout=20)
        node.url = node.info["url"]
        return node


async def wait_until(condition: Any, nodes: list[Node], timeout: float = 60) -> None:
    """Poll `condition`; on timeout fail with every node's last status, for diagnosis."""
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(0.02)
        return
    raise AssertionError(f"timed out; last statuses: {[n.status for n in nodes]}")


async def test_three_processes_converge_through_a_sigkill_and_restart() -> None:
    async with trio.open_nursery() as nursery:
        a = await Node.launch(nursery, "--id", "a", "--updates", "1000")
        b = await Node.launch(nursery, "--id", "b", *ASYNCIO, "--updates", "1000", "--peer", a.url)
        c = await Node.launch(
            nursery, "--id", "c", *ASYNCIO, "--updates", "400", "--peer", a.url, "--peer", b.url
        )
        nodes = [a, b, c]
        try:
            await wait_until(lambda: all(len(n.status.get("peers", [])) == 2 for n in nodes), nodes)
            await wait_until(lambda: c.status.get("made", 0) >= 50, nodes)
            assert [n.status["backend"] for n in nodes] == ["trio", "asyncio", "asyncio"]
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
            c2 = await Node.launch(
                nursery, "--id", "c2", *ASYNCIO, "--peer", a.url, "--peer", b.url
            )
            nodes = [a, b, c2]
            await wait_until(lambda: len({n.status.get("digest") for n in nodes}) == 1, nodes)
            # Everything a and b made is everywhere; c's pre-crash updates that reached them too.
            assert c2.status["hits"] == a.status["hits"] == b.status["hits"] >= 2000
        finally:
            for node in [*nodes, c]:
                await node.stop()
            nursery.cancel_scope.cancel()
