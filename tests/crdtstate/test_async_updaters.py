"""An `async def` updater is refused with `AsyncUpdaterError`, never silently dropped.

Before, `update` called it, dropped the coroutine (a RuntimeWarning at most) and returned the
old value as if the update had happened. Now every container, replicated or locked, refuses
it, changes nothing, publishes nothing, and leaves no "never awaited" warning behind.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from crdtstate import (
    AsyncUpdaterError,
    AWSet,
    Document,
    LockedContainer,
    LWWRegister,
    ORMap,
    PNCounter,
    Replica,
)

pytestmark = pytest.mark.anyio


async def add_later(s: Any) -> None:
    await anyio.sleep(0)
    s.add("x")


async def increment_later(n: Any) -> None:
    n.increment(5)


async def insert_later(d: Any) -> None:
    d.text("body").insert(0, "hello")


async def set_later(m: Any) -> None:
    m["k"].increment(1)


async def assign_later(r: Any) -> None:
    r.value = "v"


CASES: list[tuple[Any, Callable[..., Any], Callable[[Any], Any]]] = [
    (AWSet, add_later, lambda s: s.add("x")),
    (PNCounter, increment_later, lambda n: n.increment(5)),
    (ORMap[str, PNCounter], set_later, lambda m: m["k"].increment(1)),
    (LWWRegister[str], assign_later, lambda r: setattr(r, "value", "v")),
    (Document, insert_later, lambda d: d.text("body").insert(0, "hello")),
]


@pytest.mark.parametrize(("kind", "async_updater", "sync_updater"), CASES)
@pytest.mark.parametrize("durable", [False, True])
async def test_a_replicated_container_refuses_an_async_updater(
    kind: Any,
    async_updater: Callable[..., Any],
    sync_updater: Callable[[Any], Any],
    durable: bool,
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.db" if durable else None
    async with Replica.open("a", path) as replica:
        container = replica.container("obj", kind)
        before = dict(await container.get()) if kind is Document else await container.get()
        digest = replica.digest()
        async with container.subscribe() as changes:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # "coroutine ... was never awaited" would fail
                with pytest.raises(AsyncUpdaterError, match="async def"):
                    await container.update(async_updater)
                # A lambda that returns a coroutine is the same mistake.
                with pytest.raises(AsyncUpdaterError):
                    await container.update(lambda s: async_updater(s))
                gc.collect()
            after = dict(await container.get()) if kind is Document else await container.get()
            assert after == before
            assert replica.digest() == digest
            assert replica.buffer.sequence == 0
            # The container still works, and the first change its subscriber sees is this one.
            await container.update(sync_updater)
            with anyio.fail_after(2):
                change = await anext(changes)
            assert change.value != before


async def test_a_locked_container_refuses_an_async_updater() -> None:
    container = LockedContainer({"a"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AsyncUpdaterError, match="async def"):
            await container.update(add_later)
        with pytest.raises(AsyncUpdaterError):
            await container.compare_and_swap({"a"}, add_later)
        gc.collect()
    assert await container.get() == {"a"}
    assert container.history() == []
    assert await container.update(lambda s: s.add("x")) == {"a", "x"}


def test_the_error_is_a_type_error_of_the_library() -> None:
    from crdtstate import CrdtStateError

    assert issubclass(AsyncUpdaterError, CrdtStateError)
    assert issubclass(AsyncUpdaterError, TypeError)
