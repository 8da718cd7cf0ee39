"""Three MCP server replicas in separate processes, driven by the SDK's real client over
streamable HTTP: registries, a hard rate limit and session leases across replicas, and a
replica killed with SIGKILL."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import trio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.subscriptions import ToolsListChanged
from mcp.types import TextContent

from crdtstate import Replica as LibraryReplica
from crdtstate.recipes.registry import Registry
from transport import open_mesh

from ..status_process import ROOT, StatusProcess

SERVER = ROOT / "examples" / "mcp_replicas" / "server.py"
MEMBERS = ["--member", "a", "--member", "b", "--member", "c"]
# Quota windows are aligned to the clock: one of 30 years keeps a run from crossing into the
# next (where every quota starts afresh).
WINDOW = str(30 * 365 * 86400)


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


async def test_three_mcp_replicas_share_registries_limits_and_session_leases(
    tmp_path: Path,
) -> None:
    async with trio.open_nursery() as nursery:
        common = [*MEMBERS, "--quota", "6", "--window", WINDOW, "--lease-ttl", "1.5"]
        a = await Replica.launch(nursery, "--id", "a", "--db", str(tmp_path / "a.db"), *common)
        b = await Replica.launch(
            nursery, "--id", "b", "--db", str(tmp_path / "b.db"), "--peer", a.info["mesh"], *common
        )
        c = await Replica.launch(
            nursery,
            *("--id", "c", "--db", str(tmp_path / "c.db")),
            *("--peer", a.info["mesh"], "--peer", b.info["mesh"], *common),
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
                await a_resource_registered_again_serves_its_new_text_everywhere(ca, cb, cc)
                await built_in_and_invalid_tool_names_are_refused(ca, cb)
                await bad_registry_entries_from_a_peer_never_stop_the_mirroring(a, ca, cb)
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


async def a_resource_registered_again_serves_its_new_text_everywhere(
    ca: Client, cb: Client, cc: Client
) -> None:
    uri = "notes://release"
    assert await call(ca, "register_resource", uri=uri, text="v1") == f"published {uri} through a"
    await eventually(lambda: _reads(cb, uri, "v1"), "the resource on b")
    await call(cc, "register_resource", uri=uri, text="v2")
    for client in (ca, cb, cc):
        await eventually(lambda c=client: _reads(c, uri, "v2"), "the new text")
    assert [r.uri for r in (await cb.list_resources()).resources].count(uri) == 1
    refused = await cb.call_tool("register_resource", {"uri": "not a uri", "text": "x"})
    assert refused.is_error and "invalid resource URI 'not a uri'" in _text(refused)
    assert "not a uri" not in {str(r.uri) for r in (await cb.list_resources()).resources}


async def _reads(client: Client, uri: str, text: str) -> bool:
    listed = {str(r.uri) for r in (await client.list_resources()).resources}
    if uri not in listed:
        return False
    contents = (await client.read_resource(uri)).contents
    return [getattr(c, "text", None) for c in contents] == [text]


def _text(result: Any) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


async def built_in_and_invalid_tool_names_are_refused(ca: Client, cb: Client) -> None:
    builtin = {t.name for t in (await ca.list_tools()).tools} - {"summarize"}
    assert {"spend", "register_tool", "whoami"} <= builtin
    for name in sorted(builtin):
        refused = await ca.call_tool("register_tool", {"name": name, "description": "mine now"})
        assert refused.is_error and f"{name!r} is a built-in tool" in _text(refused), name
    for name in ("", "has space", "x" * 129, "semi;colon"):
        refused = await ca.call_tool("register_tool", {"name": name, "description": "bad"})
        assert refused.is_error and f"invalid tool name {name!r}" in _text(refused), name
    tools = {t.name: t for t in (await cb.list_tools()).tools}
    assert tools["spend"].description != "mine now"


async def bad_registry_entries_from_a_peer_never_stop_the_mirroring(
    a: Replica, ca: Client, cb: Client
) -> None:
    """A peer (an older version, another program) writes entries register_tool would refuse:
    each replica skips them and keeps mirroring the rest."""
    async with (
        LibraryReplica.open("writer") as peer,
        open_mesh(peer, None, [a.info["mesh"]]) as mesh,
    ):
        await mesh.wait_for_peers({"a"})
        tools = Registry(peer, "mcp/tools")
        await tools.register("", {"description": "no name"})
        await tools.register("spend", {"description": "a fake quota"})
        await tools.register("no-spec", "not a dict")  # type: ignore[arg-type]
        await tools.register("translate", {"description": "Translate a text"})
        for client in (ca, cb):
            await eventually(lambda c=client: _lists(c, "translate"), "the valid entry")
    await call(ca, "register_tool", name="outline", description="Outline a text")
    for client in (ca, cb):
        await eventually(lambda c=client: _lists(c, "outline"), "a later registration")
        tools_now = {t.name: t for t in (await client.list_tools()).tools}
        assert "" not in tools_now and "no-spec" not in tools_now
        assert tools_now["spend"].description != "a fake quota"
        assert await call(client, "translate") == f"translate answered by {_me(client, ca)}"


def _me(client: Client, ca: Client) -> str:
    return "a" if client is ca else "b"


async def _lists(client: Client, name: str) -> bool:
    return name in {t.name for t in (await client.list_tools()).tools}


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
