"""What an updater may be: a plain function, run while nothing else touches the state.

An `async def` updater would only be called, not run: its coroutine would be dropped with a
RuntimeWarning and the update lost. Awaiting it inside `update` is no way out either: other
tasks would then update the same state half-way through it. So it is refused, loudly.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

from .errors import AsyncUpdaterError

# Types whose instances are never awaitable, learnt as updaters return them: the check costs
# a set lookup per update instead of an ABC check (microseconds on a CRDT delta). A generator
# is awaitable or not by its flags, so its type is never cached.
PLAIN_TYPES: set[type] = {type(None), int, float, str, bytes, bool, list, dict, set, frozenset}


def refuse_awaitable(result: Any, updater: Any) -> None:
    """Raise `AsyncUpdaterError` if `updater` returned an awaitable (closing a coroutine, so
    Python does not also warn that it was never awaited)."""
    kind = type(result)
    if kind in PLAIN_TYPES:
        return
    if not inspect.isawaitable(result):
        if kind is not types.GeneratorType:
            PLAIN_TYPES.add(kind)
        return
    if inspect.iscoroutine(result):
        result.close()
    name = getattr(updater, "__qualname__", None) or repr(updater)
    raise AsyncUpdaterError(
        f"updater {name} returned {type(result).__name__}: an updater must be a plain function "
        "(not async def) that changes the value it is given; await what it needs before update()"
    )
