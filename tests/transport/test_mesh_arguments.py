"""What a new user gets wrong about a mesh is refused at once, or said out loud.

- a listen port past 65535 (which used to bind a random port silently), a peer that is not a
  websocket URL (a number gave an unclear TypeError inside a dial task), a lone string as
  `peers`: `InvalidArgumentError` from `open_mesh`, before anything listens;
- an unreachable peer: one warning naming it and the reason, not one per retry;
- `wait_for_peers(..., timeout=)`: `PeersMissingError` naming the peers missing.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import anyio
import pytest

from crdtstate import InvalidArgumentError, PeersMissingError, Replica
from transport import Backoff, open_mesh

pytestmark = pytest.mark.anyio

FAST = Backoff(initial=0.01, maximum=0.02)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "listen", ["127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:-1", "localhost", "7700", 7700]
)
async def test_a_bad_listen_address_is_refused(listen: Any) -> None:
    async with Replica.open("a") as replica:
        with pytest.raises(InvalidArgumentError, match="listen address"):
            async with open_mesh(replica, listen=listen):
                pytest.fail("the mesh opened")


@pytest.mark.parametrize(
    ("peers", "names"),
    [
        ([12345], "12345"),
        (["http://127.0.0.1:7700"], "scheme"),
        (["ws://127.0.0.1:99999"], "99999"),
        (["ws://"], "hostname"),
        ("ws://127.0.0.1:7700", "one string"),
    ],
)
async def test_a_bad_peer_is_refused_saying_what_is_wrong(peers: Any, names: str) -> None:
    async with Replica.open("a") as replica:
        with pytest.raises(InvalidArgumentError, match=names) as caught:
            async with open_mesh(replica, peers=peers):
                pytest.fail("the mesh opened")
    assert "\n" not in str(caught.value)


async def test_port_zero_and_a_bare_host_port_peer_are_fine() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        async with open_mesh(a, listen="127.0.0.1:0") as mesh_a:
            bare = mesh_a.url.removeprefix("ws://")
            async with open_mesh(b, listen=None, peers=[bare]) as mesh_b:
                await mesh_b.wait_for_peers({"a"}, timeout=10)


async def test_an_unreachable_peer_is_warned_about_once_with_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"ws://127.0.0.1:{closed_port()}"
    caplog.set_level(logging.WARNING, logger="transport")
    async with Replica.open("a") as replica, open_mesh(replica, peers=[url], backoff=FAST):
        with anyio.fail_after(10):
            while not any(url in r.getMessage() for r in caplog.records):
                await anyio.sleep(0.01)
        await anyio.sleep(0.2)  # many more failed dials at this backoff
    warnings = [r for r in caplog.records if url in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    message = warnings[0].getMessage()
    assert "cannot reach peer" in message
    assert len(message) > len(f"a: cannot reach peer {url}: ")  # the reason follows


async def test_wait_for_peers_times_out_naming_the_missing_peers() -> None:
    url = f"ws://127.0.0.1:{closed_port()}"
    async with Replica.open("a") as a, Replica.open("b") as b:
        async with open_mesh(a) as mesh_a, open_mesh(b, peers=[mesh_a.url, url], backoff=FAST):
            await mesh_a.wait_for_peers({"b"}, timeout=10)
            with pytest.raises(PeersMissingError) as caught:
                await mesh_a.wait_for_peers({"b", "server-c"}, timeout=0.3)
    message = str(caught.value)
    assert caught.value.missing == frozenset({"server-c"})
    assert "'server-c'" in message and "'b'" not in message.split("(")[0]
    assert "connected: b" in message


async def test_wait_for_peers_says_which_dials_fail() -> None:
    url = f"ws://127.0.0.1:{closed_port()}"
    async with Replica.open("a") as a, open_mesh(a, peers=[url], backoff=FAST) as mesh:
        with pytest.raises(PeersMissingError) as caught:
            await mesh.wait_for_peers(1, timeout=0.5)
    assert caught.value.missing == 1
    assert "0 of 1 peers connected" in str(caught.value)
    assert url in str(caught.value)
    assert isinstance(caught.value, TimeoutError)


async def test_wait_for_peers_refuses_a_lone_string() -> None:
    async with Replica.open("a") as a, open_mesh(a) as mesh:
        with pytest.raises(InvalidArgumentError, match="set of peer ids"):
            await mesh.wait_for_peers("b", timeout=1)
