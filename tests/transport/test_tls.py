"""TLS between replicas with a certificate made in the test (trustme)."""

from __future__ import annotations

import ssl

import anyio
import pytest
import trustme

from crdtstate import PNCounter, Replica
from transport import open_mesh

from .helpers import converge

pytestmark = pytest.mark.anyio


def contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    authority.configure_trust(client)
    return server, client


async def test_replicas_sync_over_tls() -> None:
    server_ctx, client_ctx = contexts()
    async with Replica.open("a") as a, Replica.open("b") as b:
        await a.container("n", PNCounter).update(lambda n: n.increment(4))
        async with open_mesh(a, ssl_context=server_ctx) as mesh_a:
            assert mesh_a.url.startswith("wss://")
            async with open_mesh(b, listen=None, peers=[mesh_a.url], client_ssl_context=client_ctx):
                await converge([a, b])
        assert await b.container("n", PNCounter).get() == 4


async def test_a_dialer_that_does_not_trust_the_certificate_is_refused() -> None:
    server_ctx, _ = contexts()
    untrusting = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # system CAs only
    async with Replica.open("a") as a, Replica.open("b") as b:
        await a.container("n", PNCounter).update(lambda n: n.increment(4))
        async with open_mesh(a, ssl_context=server_ctx) as mesh_a:
            async with open_mesh(
                b, listen=None, peers=[mesh_a.url], client_ssl_context=untrusting
            ) as mesh_b:
                await anyio.sleep(0.5)  # several attempts, each failing verification
                assert mesh_b.peers == set()
                assert mesh_a.peers == set()
        assert await b.container("n", PNCounter).get() == 0


async def test_plain_websocket_to_a_tls_listener_gets_nothing() -> None:
    server_ctx, _ = contexts()
    async with Replica.open("a") as a, Replica.open("b") as b:
        await a.container("n", PNCounter).update(lambda n: n.increment(4))
        async with open_mesh(a, ssl_context=server_ctx) as mesh_a:
            plain = mesh_a.url.replace("wss://", "ws://")
            async with open_mesh(b, listen=None, peers=[plain]) as mesh_b:
                await anyio.sleep(0.5)
                assert mesh_b.peers == set()
        assert await b.container("n", PNCounter).get() == 0
