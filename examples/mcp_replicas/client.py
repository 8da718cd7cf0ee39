"""Drive three MCP server replicas with the SDK's client: register a tool through one and see it
listed (and announced) on another, spend a tenant's quota across them, and look up a session.

    python examples/mcp_replicas/client.py http://127.0.0.1:8001/mcp http://127.0.0.1:8002/mcp \
        http://127.0.0.1:8003/mcp
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

import trio
from mcp import Client
from replica_server import until_listening


async def call(session: Client, tool: str, /, **arguments: Any) -> Any:
    result = await session.call_tool(tool, arguments)
    content = result.structured_content or {}
    return content["result"] if set(content) == {"result"} else content


async def main(url_a: str, url_b: str, url_c: str) -> None:
    with trio.fail_after(30):  # replicas started in the background a moment ago
        for url in (url_a, url_b, url_c):
            address = urlsplit(url)
            await until_listening(address.hostname or "127.0.0.1", address.port or 80)
    async with Client(url_a) as a, Client(url_b) as b, Client(url_c) as c:
        async with b.listen(tools_list_changed=True) as events:
            print(await call(a, "register_tool", name="summarize", description="Summarize text"))
            with trio.fail_after(10):
                print("b was told:", await events.__anext__())
        print("b lists:", sorted(t.name for t in (await b.list_tools()).tools))
        print("b runs it:", await call(b, "summarize"))
        for name, session in (("a", a), ("b", b), ("c", c)):
            print(f"spend through {name}:", await call(session, "spend", client="tenant-1"))
        async with Client(url_a, mode="legacy") as held:  # a stateful, handshake-era session
            sid = (await call(held, "whoami"))["session"]
            with trio.fail_after(10):
                while (info := await call(c, "session_info", session_id=sid)) is None:
                    await trio.sleep(0.05)
            print(f"session {sid[:8]}... as c sees it:", info)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("a", "b", "c"):
        parser.add_argument(
            f"url_{name}", help=f"replica {name}'s MCP endpoint, http://host:port/mcp"
        )
    args = parser.parse_args()
    trio.run(main, args.url_a, args.url_b, args.url_c)
