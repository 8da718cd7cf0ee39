"""`crdtstate serve` as a real process: a relay between replicas that never meet, metrics,
and a clean exit on SIGTERM; the node on trio and on asyncio (`--backend`), its peers on trio."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request

import pytest
import trio

from crdtstate import AWSet, Replica
from transport import open_mesh

from .helpers import converge


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
async def test_serve_relays_between_replicas_that_never_meet_and_exports_metrics(
    tmp_path, backend: str
) -> None:
    port, metrics_port = free_port(), free_port()
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cret\n")
    node = await trio.lowlevel.open_process(
        [
            sys.executable, "-m", "crdtstate", "--backend", backend, "serve", "--id", "relay",
            "--listen", f"127.0.0.1:{port}", "--secret-file", str(secret_file),
            "--metrics-port", str(metrics_port),
        ],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"ws://127.0.0.1:{port}"
        async with Replica.open("left") as left, Replica.open("right") as right:
            await left.container("notes", AWSet).update(lambda s: s.add("from-left"))
            await right.container("notes", AWSet).update(lambda s: s.add("from-right"))
            # left and right only know the relay, never each other.
            async with (
                open_mesh(left, listen=None, peers=[url], secret="s3cret") as mesh_left,
                open_mesh(right, listen=None, peers=[url], secret="s3cret"),
            ):
                await converge([left, right], timeout=30)
                assert mesh_left.peers == {"relay"}
                assert await right.container("notes", AWSet).get() == {"from-left", "from-right"}

                def scrape() -> str:
                    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as r:
                        return r.read().decode()

                # The gauges are copied once a second: wait for a copy made after both joined.
                connected = [
                    f'crdtstate_peer_connected{{peer="{peer}",replica="relay"}} 1.0'
                    for peer in ("left", "right")
                ]
                with trio.fail_after(20):
                    text = await trio.to_thread.run_sync(scrape)
                    while not all(line in text for line in connected):
                        await trio.sleep(0.2)
                        text = await trio.to_thread.run_sync(scrape)
        node.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            assert await node.wait() == 0
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    assert node.stderr is not None
    log = (await node.stderr.receive_some(1 << 20)).decode()
    assert "received SIGTERM" in log
    assert f", on {backend}\n" in log  # the loop the node really ran on
