"""Three MCP server replicas in separate processes, driven by the SDK's real client over
streamable HTTP: registries, a hard rate limit and session leases across replicas, and a
replica killed with SIGKILL."""

from __future__ import annotations

import signal
from typing import Any

import trio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.subscriptions import ToolsListChanged

from ..status_process import ROOT, StatusProcess

SERVER = ROOT / "examples" / "mcp_replicas" / "server.py"
MEMBERS = ["--member", "a", "--member", "b", "--member", "c"]


class Replica(StatusProcess):
    """A running MCP server replica: `info` holds its "mcp" and "mesh" URLs."""

    @classmethod
    async def launch(cls, nursery: trio.Nursery, *args: str) -> Replica:
        return await cls.start(nursery, SERVER, *args)


async def call(session: Client, tool: str, /, **arguments: Any) -> Any:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    content = result.structured_content or {}
    return content["result"] if set(content) == {"result"} else content  # wrapped or not


async def eventually(check: Any, what: str, timeout: float = 30) -> Any:
    """Poll `check` until it returns something truthy (a safety limit, not a timing claim)."""
    with trio.move_on_after(timeout):
        while not (found := await check()):
            await trio.sleep(0.05)
        return found
    raise AssertionError(f"timed out waiting for {what}")


async def test_three_mcp_replicas_share_registries_limits_and_session_leases() -> None:
    async with trio.open_nursery() as nursery:
        common = [*MEMBERS, "--quota", "6", "--window", "3600", "--lease-ttl", "1.5"]
        a = await Replica.launch(nursery, "--id", "a", *common)
        b = await Replica.launch(nursery, "--id", "b", "--peer", a.info["mesh"], *common)
        c = await Replica.launch(
            nursery, "--id", "c", "--peer", a.info["mesh"], "--peer", b.info["mesh"], *common
        )
        replicas = [a, b, c]
        try:
            await eventually(
                lambda: _true(all(len(r.status.get("peers", [])) == 2 for r in replicas)),
                "the mesh to connect",
            )
            async with (
                Client(a.info["mcp"]) as ca,
                Client(b.info["mcp"]) as cb,
                Client(c.info["mcp"]) as cc,
            ):
                await registered_on_a_is_listed_and_announced_on_b(ca, cb)
                await quota_spent_on_a_and_b_is_refused_on_c(ca, cb, cc)
                await session_on_a_is_seen_on_c_and_lapses_when_a_is_killed(a, cb, cc)
            # A status line per change of peers (a few), not one every 0.1 s (dozens by now).
            for r in replicas:
                assert 1 <= r.status_lines <= 6, (r.info["id"], r.status_lines)
        finally:
            for r in replicas:
                await r.stop()
            nursery.cancel_scope.cancel()


async def _true(value: bool) -> bool:
    return value


async def registered_on_a_is_listed_and_announced_on_b(ca: Client, cb: Client) -> None:
    assert "summarize" not in {t.name for t in (await cb.list_tools()).tools}
    async with cb.listen(tools_list_changed=True) as events:
        assert (
            await call(ca, "register_tool", name="summarize", description="Summarize a text")
            == "registered summarize through a"
        )
        with trio.fail_after(30):
            async for event in events:
                assert event == ToolsListChanged()
                break
    tools = {t.name: t for t in (await cb.list_tools()).tools}
    assert tools["summarize"].description == "Summarize a text"
    assert await call(cb, "summarize") == "summarize answered by b"


async def quota_spent_on_a_and_b_is_refused_on_c(ca: Client, cb: Client, cc: Client) -> None:
    # The cap is 6 and each replica's share is 2: a and b borrow c's rights to serve 3 each.
    for client in (ca, cb):
        for _ in range(3):
            outcome = await call(client, "spend", client="tenant-1")
            assert outcome["allowed"], outcome
    refused = await call(cc, "spend", client="tenant-1")
    assert refused == {"allowed": False, "replica": "c", "remaining": 0}
    assert (await call(cc, "spend", client="tenant-2"))["allowed"]  # another tenant's quota


async def session_on_a_is_seen_on_c_and_lapses_when_a_is_killed(
    a: Replica, cb: Client, cc: Client
) -> None:
    # A handshake-era client gets a stateful MCP session, held by a's process.
    transport = streamable_http_client(a.info["mcp"], terminate_on_close=False)
    with trio.CancelScope() as scope:
        async with Client(transport, mode="legacy") as la:
            me = await call(la, "whoami")
            assert me["replica"] == "a" and me["session"]
            sid = me["session"]
            seen = await eventually(lambda: call(cc, "session_info", session_id=sid), "the lease")
            assert seen["owner"] == "a" and seen["forward"] == a.info["mcp"]
            a.process.send_signal(signal.SIGKILL)
            await a.process.wait()
            scope.cancel()  # the client's stream died with a: drop it without a goodbye
    assert a.process.returncode == -signal.SIGKILL
    for survivor in (cb, cc):
        await eventually(
            lambda s=survivor: _is_none(call(s, "session_info", session_id=sid)),
            "the lease to lapse",
        )


async def _is_none(result: Any) -> bool:
    return await result is None
