"""Shared helpers for tests that run replicas over real links."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from crdtstate import Replica


async def converge(replicas: Sequence[Replica], timeout: float = 10.0) -> None:
    """Wait until every replica holds the same state (fails the test after `timeout`)."""
    with anyio.fail_after(timeout):
        while len({r.digest() for r in replicas}) > 1:
            await anyio.sleep(0.005)
