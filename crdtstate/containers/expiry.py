"""Expiry at the container level: update handles with a time to live, and local collection.

The types (`types/expiring.py`) are pure: reads and collection take `now`. Here `now` comes
from a `HybridLogicalClock` (injectable, so tests can skew or freeze it): `hlc_reading(clock)`
is the later of its wall clock and the largest timestamp it has seen, so it never runs back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import anyio

from ..types.expiring import ExpiringMap, ExpiringRegister, hlc_reading
from ..types.hlc import HybridLogicalClock, process_clock
from .handle_registry import Record, register_handle
from .handles import _Handle
from .replicated import ReplicatedContainer

log = logging.getLogger(__name__)

__all__ = [
    "ExpiringMapHandle",
    "ExpiringRegisterHandle",
    "collect_expired",
    "hlc_reading",
    "run_collector",
]


class ExpiringRegisterHandle(_Handle):
    """`set(value, ttl=)`, `renew(ttl)`, `clear()`; `value_at(now)` reads."""

    __slots__ = ()
    _state: ExpiringRegister

    def value_at(self, now: int) -> Any:
        return self._state.value_at(now)

    def set(
        self, value: Any, ttl: float | None = None, *, clock: HybridLogicalClock | None = None
    ) -> None:
        self._record(self._state.assign(value, replica=self._replica, ttl=ttl, clock=clock))

    def renew(self, ttl: float | None, *, clock: HybridLogicalClock | None = None) -> bool:
        """Extend the live value to `ttl` from now; False when it has already lapsed."""
        delta = self._state.renew(replica=self._replica, ttl=ttl, clock=clock)
        if delta.is_bottom():
            return False
        self._record(delta)
        return True

    def clear(self) -> None:
        if self._state.store.values:
            self._record(self._state.clear(replica=self._replica))


class ExpiringMapHandle:
    """What an `ExpiringMap` updater receives: `set`, `renew`, `delete`, and reads at `now`."""

    __slots__ = ("_record", "_replica", "_state")

    def __init__(self, state: ExpiringMap, replica: str, record: Record) -> None:
        self._state = state
        self._replica = replica
        self._record = record

    @property
    def state(self) -> ExpiringMap:
        return self._state

    def get(self, key: Any, now: int) -> Any:
        reg = self._state.register(key)
        return None if reg is None else reg.value_at(now)

    def contains(self, key: Any, now: int) -> bool:
        return self._state.contains_at(key, now)

    def set(
        self,
        key: Any,
        value: Any,
        ttl: float | None = None,
        *,
        clock: HybridLogicalClock | None = None,
    ) -> None:
        """Write `value` under `key`, lapsing `ttl` seconds from now (None: never)."""
        self._record(
            self._state.apply(
                key, lambda r: r.assign(value, replica=self._replica, ttl=ttl, clock=clock)
            )
        )

    def renew(
        self, key: Any, ttl: float | None, *, clock: HybridLogicalClock | None = None
    ) -> bool:
        """Extend a live entry to `ttl` from now; False (and no write) when it has lapsed."""
        clock = clock or process_clock()
        if not self._state.contains_at(key, hlc_reading(clock)):
            return False
        self._record(
            self._state.apply(key, lambda r: r.renew(replica=self._replica, ttl=ttl, clock=clock))
        )
        return True

    def delete(self, key: Any) -> bool:
        """Remove `key` (observed remove); whether it held anything, live or lapsed."""
        if self._state.register(key) is None:
            return False
        self._record(self._state.remove(key, replica=self._replica))
        return True

    def __repr__(self) -> str:
        return f"<expiring map of {len(self._state.store.entries)} keys>"


def collect_expired(
    containers: Iterable[ReplicatedContainer[Any]], clock: HybridLogicalClock | None = None
) -> int:
    """Drop lapsed writes from these containers' states, locally; how many were dropped.

    Idempotent, and safe at any time on any replica: lapsed writes are invisible to reads
    already, and nothing lapsed can come back (`types/expiring.py`).
    """
    now = hlc_reading(clock or process_clock())
    dropped = 0
    for container in containers:
        state = container.local_state()
        if isinstance(state, ExpiringMap | ExpiringRegister):
            dropped += state.collect(now)
    return dropped


async def run_collector(
    containers: Iterable[ReplicatedContainer[Any]],
    *,
    interval: float = 1.0,
    clock: HybridLogicalClock | None = None,
) -> None:
    """Collect every `interval` seconds until cancelled (start it in a nursery you own)."""
    containers = list(containers)
    while True:
        dropped = collect_expired(containers, clock)
        if dropped:
            log.debug("collected %d lapsed writes", dropped)
        await anyio.sleep(interval)


register_handle(ExpiringRegister, ExpiringRegisterHandle)
register_handle(ExpiringMap, ExpiringMapHandle)
