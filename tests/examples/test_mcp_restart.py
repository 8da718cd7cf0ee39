"""Three MCP server replicas in separate processes, driven by the SDK's real client: one is
killed with SIGKILL and restarted with the same id while cut off from the others, then the
network heals. Every acknowledged write is found on all three, nothing is counted twice, and
the hard quota's cap is never exceeded.

The cut is real: c reaches a and b only through TCP relays on loopback that the test closes
(dropping open connections, refusing new ones) and reopens.
"""

from __future__ import annotations

import importlib.util
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client

from .test_mcp_replicas import MEMBERS, SERVER, WINDOW, Replica, call, eventually

CAP = 12  # each member's share is 4
# A spend beyond what its replica can get refuses after waiting this long for a grant (the
# server's default, 5 s, made the cut-off round's six to nine refusals take 30 to 45 s). A grant
# between connected replicas takes a grant interval (0.05 s) and a push; a slower one only
# turns an admitted spend into a refused one, which the checks below allow for.
QUOTA_WAIT = "1"
TENANT = "tenant-1"


class Relay:
    """A TCP relay from a loopback port to `target_port` that the test can cut and heal."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.is_cut = False
        self._open: set[trio.CancelScope] = set()

    async def start(self, nursery: trio.Nursery) -> str:
        listeners = await nursery.start(partial(trio.serve_tcp, self._relay, 0, host="127.0.0.1"))
        self.port = listeners[0].socket.getsockname()[1]
        return f"ws://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.is_cut = True
        for scope in self._open:
            scope.cancel()

    def heal(self) -> None:
        self.is_cut = False

    async def _relay(self, downstream: trio.SocketStream) -> None:
        with trio.CancelScope() as scope:
            self._open.add(scope)
            try:
                if self.is_cut:
                    return
                upstream = await trio.open_tcp_stream("127.0.0.1", self.target_port)
                async with upstream, trio.open_nursery() as nursery:
                    nursery.start_soon(_pump, downstream, upstream, nursery.cancel_scope)
                    nursery.start_soon(_pump, upstream, downstream, nursery.cancel_scope)
            except OSError:
                return
            finally:
                self._open.discard(scope)
                await trio.aclose_forcefully(downstream)


async def _pump(source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope) -> None:
    try:
        async for chunk in source:
            await sink.send_all(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    done.cancel()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


class Writes:
    """What the replicas acknowledged: the state every replica must reach once healed."""

    def __init__(self) -> None:
        self.tools: set[str] = set()
        self.kv: dict[str, str] = {}
        self.spent = 0

    async def through(self, client: Client, who: str, step: str, spends: int) -> None:
        """One replica's round of writes: a tool, a key, and some spends of the hard quota."""
        tool = f"tool-{who}-{step}"
        assert await call(client, "register_tool", name=tool, description=f"{who} {step}")
        self.tools.add(tool)
        assert await call(client, "kv_set", key=f"{who}-{step}", value=f"{who} {step}")
        self.kv[f"{who}-{step}"] = f"{who} {step}"
        for _ in range(spends):
            if (await call(client, "spend", client=TENANT))["allowed"]:
                self.spent += 1
        assert self.spent <= CAP

    async def held_by(self, client: Client) -> bool:
        """Whether `client`'s replica holds every write, each counted once."""
        listed = {t.name for t in (await client.list_tools()).tools}
        for key, value in self.kv.items():
            if await call(client, "kv_get", key=key) != value:
                return False
        left = await call(client, "quota_left", client=TENANT)
        assert left >= CAP - self.spent, (left, self.spent)  # never more spent than admitted
        return listed - BUILT_IN == self.tools and left == CAP - self.spent


def _built_in_tools() -> frozenset[str]:
    """The example's own list of the tools every replica serves (read, not copied)."""
    spec = importlib.util.spec_from_file_location(
        "replica_server", SERVER.with_name("replica_server.py")
    )
    assert spec is not None and spec.loader is not None
    server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server)
    return server.BUILT_IN_TOOLS


BUILT_IN = _built_in_tools()


@pytest.mark.parametrize("c_keeps", ["memory", "db"])
async def test_a_replica_killed_and_restarted_with_its_id_while_cut_off_loses_nothing(
    tmp_path: Path, c_keeps: str
) -> None:
    """a and b keep their replicas in databases; c in memory (it regains from a and b what
    reached them before the kill) or in a database (it keeps all it acknowledged, so it is
    killed right after its last write)."""
    secret = tmp_path / "secret"
    secret.write_text("a shared secret\n")
    common = [*MEMBERS, "--quota", str(CAP), "--window", WINDOW, "--secret-file", str(secret)]
    common += ["--quota-wait", QUOTA_WAIT]
    c_db = ["--db", str(tmp_path / "c.db")] if c_keeps == "db" else []
    writes = Writes()
    async with trio.open_nursery() as nursery:
        a = await Replica.launch(nursery, "--id", "a", "--db", str(tmp_path / "a.db"), *common)
        b = await Replica.launch(
            nursery, "--id", "b", "--db", str(tmp_path / "b.db"), "--peer", a.info["mesh"], *common
        )
        relays = [Relay(port_of(r.info["mesh"])) for r in (a, b)]
        via = [await relay.start(nursery) for relay in relays]
        c_args = ["--id", "c", *c_db, "--peer", via[0], "--peer", via[1], *common]
        c = await Replica.launch(nursery, *c_args)
        replicas = [a, b, c]
        try:
            await eventually(lambda: _peers(replicas, 2), "the mesh to connect")
            async with Client(a.info["mcp"]) as ca, Client(b.info["mcp"]) as cb:
                async with Client(c.info["mcp"]) as cc:
                    await writes.through(ca, "a", "before", spends=3)
                    await writes.through(cb, "b", "before", spends=3)
                    await writes.through(cc, "c", "before", spends=2)
                    if c_keeps == "memory":  # what c alone held dies with it
                        await eventually(lambda: _all(writes.held_by, [ca, cb]), "c's writes")
                    c.kill()
                    await c.process.wait()
                    for relay in relays:
                        relay.cut()
                c = replicas[2] = await Replica.launch(nursery, *c_args)
                async with Client(c.info["mcp"]) as cc:
                    assert await call(cc, "whoami") == {"replica": "c", "session": None}
                    await writes.through(cc, "c", "cut-off", spends=1)
                    await writes.through(ca, "a", "cut-off", spends=4)
                    await writes.through(cb, "b", "cut-off", spends=4)
                    assert c.status["peers"] == []
                    for relay in relays:
                        relay.heal()
                    await eventually(lambda: _peers(replicas, 2), "the mesh to heal", 90)
                    await eventually(lambda: _all(writes.held_by, [ca, cb, cc]), "convergence", 90)
            assert c.process.returncode is None and writes.spent <= CAP
        finally:
            for r in replicas:
                await r.stop()
            nursery.cancel_scope.cancel()


async def _peers(replicas: list[Replica], n: int) -> bool:
    return all(len(r.status.get("peers", [])) == n for r in replicas)


async def _all(check: Any, clients: list[Client]) -> bool:
    return all([await check(client) for client in clients])
