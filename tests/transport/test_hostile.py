"""Hostile input against a running replica that is also syncing with an honest peer.

Each attack gets a clear close code and reason; the replica keeps serving the honest peer and
its state is unchanged by the attacker.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import msgpack
import pytest
from websockets.exceptions import ConnectionClosed

from antientropy import Ack, Delta, Digest, Hello, PeerSession, Presence
from antientropy.messages import PROTOCOL_VERSION, decode_message, encode_message
from crdtstate import AWSet, PNCounter, Replica
from transport import Limits, Mesh, open_mesh
from transport.websocket import connect

from .helpers import converge

pytestmark = pytest.mark.anyio

SECRET = b"correct horse battery staple"


@dataclass
class Scene:
    target: Replica
    honest: Replica
    mesh: Mesh


@asynccontextmanager
async def scene(secret: bytes | None = None, limits: Limits | None = None) -> AsyncIterator[Scene]:
    """Replica 'target' with state, connected to an honest peer, both over websockets."""
    async with Replica.open("target") as target, Replica.open("honest") as honest:
        await target.container("tools", AWSet).update(lambda s: s.add("search"))
        await target.container("hits", PNCounter).update(lambda n: n.increment(3))
        async with (
            open_mesh(target, secret=secret, limits=limits) as mesh,
            open_mesh(honest, listen=None, peers=[mesh.url], secret=secret),
        ):
            await converge([target, honest])
            yield Scene(target, honest, mesh)


async def assert_still_serving(s: Scene) -> None:
    """The honest peer's new update still reaches the target, and it's the only change."""
    await s.honest.container("hits", PNCounter).update(lambda n: n.increment())
    await converge([s.target, s.honest])
    assert await s.target.container("hits", PNCounter).get() == 4
    assert await s.target.container("tools", AWSet).get() == {"search"}
    assert s.mesh.peers == {"honest"}


async def attack(url: str, frames: list[bytes | str], *, read_first: int = 0) -> tuple[int, str]:
    """Send `frames`, then read until the target closes; return (close code, reason)."""
    async with connect(url, compression=None, max_size=None) as ws:
        try:
            for _ in range(read_first):
                await ws.recv()
            for frame in frames:
                await ws.send(frame)
            with anyio.fail_after(10):
                while True:
                    await ws.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")


def hello(replica: str = "attacker", protocol: int = PROTOCOL_VERSION) -> bytes:
    return encode_message(
        Hello(
            protocol=protocol,
            replica=replica,
            incarnation=1,
            nonce=secrets.token_bytes(32),
        )
    )


OPEN_SESSION = [hello(), encode_message(Digest(objects={}))]


@pytest.mark.parametrize(
    ("name", "frames", "code", "reason_part"),
    [
        ("random bytes", [secrets.token_bytes(64)], 1002, "malformed"),
        ("text frame", ["hello there"], 1002, "text frames"),
        ("truncated msgpack", [hello()[:-5]], 1002, "malformed"),
        ("wrong schema", [msgpack.packb({"t": "hello", "who": "me"})], 1002, "malformed hello"),
        ("unknown message type", [msgpack.packb({"t": "gossip"})], 1002, "malformed"),
        ("unknown protocol version", [hello(protocol=99)], 1002, "protocol version"),
        (
            "the previous protocol version (no resume)",
            [hello(protocol=4)],
            1002,
            "unsupported protocol version 4 (this is 5)",
        ),
        ("message before hello", [encode_message(Ack(upto=1))], 1002, "unexpected ack"),
        ("our own replica id", [hello(replica="target")], 1002, "own replica id"),
        (
            "delta of an unknown kind",
            [*OPEN_SESSION, encode_message(Delta(upto=1, entries=[("tools", "bogus", [])]))],
            1002,
            "unknown CRDT kind",
        ),
        (
            "delta conflicting with the local kind",
            [
                *OPEN_SESSION,
                encode_message(Delta(upto=1, entries=[("tools", "gcounter", {"x": 5})])),
            ],
            1002,
            "kind conflict",
        ),
        (
            "malformed delta payload",
            [
                *OPEN_SESSION,
                encode_message(
                    Delta(upto=1, entries=[("tools", "awset", [[["x", [["x", 1]]]], [{}, []]])])
                ),
            ],
            1002,
            "malformed delta",
        ),
        (
            "malformed presence",
            [*OPEN_SESSION, msgpack.packb({"t": "presence", "e": [["notes", -1, 1, None]]})],
            1002,
            "malformed presence",
        ),
        (
            "presence state that is not a JSON object",
            [*OPEN_SESSION, encode_message(Presence(entries=[("notes", 7, 1, "[1]")]))],
            1002,
            "not a JSON object",
        ),
        (
            "too many presence entries",
            [
                *OPEN_SESSION,
                msgpack.packb({"t": "presence", "e": [["notes", 7, 1, None]] * 1001}),
            ],
            1002,
            "malformed presence",
        ),
        (
            "ack beyond our sequence",
            [*OPEN_SESSION, encode_message(Ack(upto=10**9))],
            1002,
            "beyond",
        ),
    ],
)
async def test_malformed_input_is_closed_with_a_reason(
    name: str, frames: list[bytes | str], code: int, reason_part: str
) -> None:
    async with scene() as s:
        got_code, reason = await attack(s.mesh.url, frames)
        assert got_code == code, (name, reason)
        assert reason_part in reason, (name, reason)
        await assert_still_serving(s)


async def test_oversized_frame_is_refused_before_it_is_buffered() -> None:
    async with scene(limits=Limits(max_frame_bytes=64 * 1024)) as s:
        code, _ = await attack(s.mesh.url, [b"\x00" * (65 * 1024)])
        assert code == 1009
        await assert_still_serving(s)


async def test_missing_secret_is_a_policy_violation() -> None:
    async with scene(secret=SECRET) as s:
        # Hello without auth, straight to a digest.
        code, reason = await attack(s.mesh.url, OPEN_SESSION)
        assert code == 1008
        assert "auth" in reason
        await assert_still_serving(s)


async def test_wrong_secret_is_a_policy_violation() -> None:
    async with scene(secret=SECRET) as s, Replica.open("attacker") as attacker:
        session = PeerSession(attacker, nonce=secrets.token_bytes(32), secret=b"guess")
        async with connect(s.mesh.url, compression=None) as ws:
            for frame in session.data_to_send(0.0):
                await ws.send(frame)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    for frame in [await ws.recv()]:
                        session.receive_data(frame, 0.0)
                        for out in session.data_to_send(0.0):
                            await ws.send(out)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        await assert_still_serving(s)


async def test_replayed_auth_handshake_fails() -> None:
    """Frames an eavesdropper recorded from an honest handshake do not authenticate again."""
    async with scene(secret=SECRET) as s, Replica.open("eve") as eve:
        recorded: list[bytes] = []
        session = PeerSession(eve, nonce=secrets.token_bytes(32), secret=SECRET)
        async with connect(s.mesh.url, compression=None) as ws:
            recorded += session.data_to_send(0.0)
            for frame in recorded:
                await ws.send(frame)
            while len(recorded) < 2:
                session.receive_data(await ws.recv(), 0.0)
                out = session.data_to_send(0.0)
                recorded += out
                for frame in out:
                    await ws.send(frame)
        assert [decode_message(f).type for f in recorded[:2]] == ["hello", "auth"]
        code, reason = await attack(s.mesh.url, recorded[:2])
        assert code == 1008
        assert "replayed" in reason or "authentication failed" in reason
        await assert_still_serving(s)


async def test_a_thousand_connections_opened_and_dropped() -> None:
    async with scene() as s:
        for i in range(1000):
            async with connect(s.mesh.url, compression=None) as ws:
                if i % 2:
                    await ws.send(hello(replica=f"flicker-{i}"))
        with anyio.fail_after(10):
            while s.mesh.connections > 1:
                await anyio.sleep(0.01)
        await assert_still_serving(s)


async def test_connections_beyond_max_peers_are_refused() -> None:
    async with scene(limits=Limits(max_peers=1)) as s:
        code, reason = await attack(s.mesh.url, [hello()])
        assert (code, reason) == (1013, "too many peers")
        await assert_still_serving(s)


async def test_handshake_timeout_closes_a_silent_connection() -> None:
    async with scene(limits=Limits(handshake_timeout=0.3)) as s:
        code, reason = await attack(s.mesh.url, [])
        assert code == 1002
        assert "handshake timed out" in reason
        await assert_still_serving(s)
