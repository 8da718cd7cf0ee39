"""The stock MCP server (`MCPServer.run()` under asyncio: uvicorn, or stdio) in one mesh with the
trio replica, each in its own process, driven by the SDK's real client: MCP sessions and a hard
rate limit across one trio and two asyncio replicas, and a stdio replica for desktop agents."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx2
import trio
from mcp import Client, StdioServerParameters

from ..status_process import ROOT, StatusProcess
from .test_mcp_replicas import (
    MEMBERS,
    SERVER,
    WINDOW,
    _is_none,
    _lists,
    _true,
    call,
    eventually,
)

STOCK_SERVER = SERVER.with_name("stock_server.py")
CAP = 9  # each of a, b and c holds a share of 3
TENANT = "tenant-1"


async def start_mesh_of_three(nursery: trio.Nursery, tmp_path: Path) -> dict[str, StatusProcess]:
    """a: the trio server (hypercorn); b and c: the stock server (uvicorn, asyncio)."""
    common = [*MEMBERS, "--quota", str(CAP), "--window", WINDOW]
    a = await StatusProcess.start(
        nursery, SERVER, "--id", "a", "--db", str(tmp_path / "a"), *common
    )
    b = await StatusProcess.start(
        nursery,
        STOCK_SERVER,
        *("--id", "b", "--db", str(tmp_path / "b"), "--peer", a.info["mesh"], *common),
    )
    c = await StatusProcess.start(
        nursery,
        STOCK_SERVER,
        *("--id", "c", "--db", str(tmp_path / "c"), "--peer", a.info["mesh"]),
        *("--peer", b.info["mesh"], *common),
    )
    return {"a": a, "b": b, "c": c}


async def test_one_trio_and_two_asyncio_replicas_share_sessions_and_a_bounded_quota(
    tmp_path: Path,
) -> None:
    async with trio.open_nursery() as nursery:
        replicas = await start_mesh_of_three(nursery, tmp_path)
        try:
            assert {name: r.info["async"] for name, r in replicas.items()} == {
                "a": "trio",
                "b": "asyncio",
                "c": "asyncio",
            }
            await eventually(
                lambda: _true(all(len(r.status.get("peers", [])) == 2 for r in replicas.values())),
                "the trio replica and the two asyncio replicas to connect",
            )
            async with (
                Client(replicas["a"].info["mcp"]) as ca,
                Client(replicas["b"].info["mcp"]) as cb,
                Client(replicas["c"].info["mcp"]) as cc,
            ):
                clients = {"a": ca, "b": cb, "c": cc}
                for name, client in clients.items():
                    assert await call(client, "whoami") == {"replica": name, "session": None}
                await a_session_made_on_each_is_seen_on_the_others(replicas, clients)
                await the_quota_cap_holds_across_the_three(clients)
        finally:
            for r in replicas.values():
                await r.stop()
            nursery.cancel_scope.cancel()


async def a_session_made_on_each_is_seen_on_the_others(
    replicas: dict[str, StatusProcess], clients: dict[str, Client]
) -> None:
    """Each replica leases the stateful (handshake-era) sessions it opens: the others see the
    owner, misdirect its requests to it (421), and forget it once the client closes it."""
    for owner, process in replicas.items():
        others = [name for name in replicas if name != owner]
        async with Client(process.info["mcp"], mode="legacy") as held:
            me = await call(held, "whoami")
            assert me["replica"] == owner and me["session"], me
            sid = me["session"]
            for other in others:
                seen = await eventually(
                    lambda o=other, s=sid: call(clients[o], "session_info", session_id=s),
                    f"{owner}'s session on {other}",
                )
                assert seen["owner"] == owner and seen["forward"] == process.info["mcp"], seen
                misdirected = await _post_in_session(replicas[other].info["mcp"], sid)
                assert misdirected.status_code == 421, (other, misdirected.status_code)
                assert misdirected.headers["mcp-session-owner"] == process.info["mcp"]
        # Closing sent DELETE: the lease is removed (a held one would be renewed forever).
        for name, client in clients.items():
            await eventually(
                lambda c=client, s=sid: _is_none(call(c, "session_info", session_id=s)),
                f"{owner}'s closed session to leave {name}",
            )


async def _post_in_session(url: str, sid: str) -> httpx2.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"mcp-session-id": sid, "accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient() as http:
        return await http.post(url, json=body, headers=headers)


async def the_quota_cap_holds_across_the_three(clients: dict[str, Client]) -> None:
    # a (trio) and b (asyncio) each serve one more than their share: the rights come from the
    # others over the mesh.
    for name in ("a", "b"):
        for _ in range(CAP // 3 + 1):
            outcome = await call(clients[name], "spend", client=TENANT)
            assert outcome["allowed"], (name, outcome)
    granted = 2 * (CAP // 3 + 1)
    # Then all three at once, asking for twice the cap: what is left is granted, no more.
    outcomes: list[dict[str, Any]] = []

    async def spend(client: Client) -> None:
        outcomes.append(await call(client, "spend", client=TENANT))

    async with trio.open_nursery() as burst:
        for client in clients.values():
            for _ in range(2 * CAP // 3):
                burst.start_soon(spend, client)
    granted += sum(o["allowed"] for o in outcomes)
    assert granted <= CAP, (granted, outcomes)
    for name, client in clients.items():  # and every replica knows what all of them spent
        await eventually(
            lambda c=client: _equals(call(c, "quota_left", client=TENANT), CAP - granted),
            f"{name} to see the {granted} spends of all three",
        )
    # One more round: a right the burst left unspent (a grant that came late) may be spent
    # now, and nothing beyond the cap.
    for client in clients.values():
        granted += (await call(client, "spend", client=TENANT))["allowed"]
    assert granted <= CAP, granted


async def _equals(result: Any, expected: Any) -> bool:
    return await result == expected


async def test_a_stdio_replica_for_desktop_agents_syncs_with_a_trio_replica(
    tmp_path: Path,
) -> None:
    common = ["--member", "a", "--member", "desktop", "--quota", "4", "--window", WINDOW]
    async with trio.open_nursery() as nursery:
        a = await StatusProcess.start(
            nursery, SERVER, "--id", "a", "--db", str(tmp_path / "a"), *common
        )
        desktop = StdioServerParameters(
            command=sys.executable,
            args=[
                *(str(STOCK_SERVER), "--transport", "stdio", "--id", "desktop"),
                *("--db", str(tmp_path / "desktop"), "--peer", a.info["mesh"], *common),
            ],
            env={"PYTHONPATH": str(ROOT)},
            cwd=ROOT,
        )
        try:
            async with Client(a.info["mcp"]) as ca, Client(desktop) as cd:
                assert await call(cd, "whoami") == {"replica": "desktop", "session": None}
                await eventually(
                    lambda: _true(a.status.get("peers") == ["desktop"]),
                    "the stdio replica to dial the trio replica",
                )
                await call(cd, "register_tool", name="summarize", description="Summarize")
                await eventually(lambda: _lists(ca, "summarize"), "the desktop's tool on a")
                assert await call(ca, "summarize") == "summarize answered by a"
                await call(ca, "kv_set", key="theme", value="dark")
                await eventually(
                    lambda: _equals(call(cd, "kv_get", key="theme"), "dark"),
                    "a's key on the desktop",
                )
                # Each holds 2 of the 4: the desktop's third is granted by a.
                for _ in range(3):
                    outcome = await call(cd, "spend", client=TENANT)
                    assert outcome["allowed"], outcome
                assert (await call(ca, "spend", client=TENANT))["allowed"]
                for client, name in ((ca, "a"), (cd, "desktop")):
                    refused = await call(client, "spend", client=TENANT)
                    assert refused == {"allowed": False, "replica": name, "remaining": 0}
        finally:
            await a.stop()
            nursery.cancel_scope.cancel()
