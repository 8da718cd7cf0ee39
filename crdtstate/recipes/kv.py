"""The key-value face of pforge's `StateManager` (`get`, `set(key, value, ttl=)`, `delete`,
`exists`) over a replicated `ExpiringMap`, so handlers written against it share state across
replicas. The backend is the replica's: `Replica.open()` keeps it in memory; a durable replica
keeps it wherever that replica persists its objects.
"""

from __future__ import annotations

from typing import Any

from ..containers.expiry import hlc_reading
from ..errors import InvalidValueError
from ..replica import Replica
from ..types.expiring import ExpiringMap
from ..types.hlc import HybridLogicalClock, process_clock


class KeyValueStore:
    """Bytes under string keys, with an optional time to live in seconds.

    Every call is local: `set` and `delete` return once the delta is in the replica (peers
    receive it by anti-entropy); reads never wait. Concurrent `set`s of one key resolve by
    the hybrid logical clock; `delete` removes what this replica has seen of the key.
    """

    def __init__(
        self, replica: Replica, name: str = "kv", *, clock: HybridLogicalClock | None = None
    ) -> None:
        self.clock = clock or process_clock()
        self.container = replica.container(name, ExpiringMap[str, Any])

    def _now(self) -> int:
        return hlc_reading(self.clock)

    async def get(self, key: str) -> bytes | None:
        reg = self.container.local_state().register(key)
        return None if reg is None else reg.value_at(self._now())

    async def exists(self, key: str) -> bool:
        return self.container.local_state().contains_at(key, self._now())

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        if not isinstance(value, bytes):
            raise InvalidValueError(f"values are bytes (encode them first), not {type(value)}")
        await self.container.update(lambda m: m.set(key, value, ttl, clock=self.clock))

    async def delete(self, key: str) -> None:
        await self.container.update(lambda m: m.delete(key))

    async def keys(self) -> list[str]:
        return sorted(self.container.local_state().value_at(self._now()))

    def __repr__(self) -> str:
        return f"<KeyValueStore {self.container.name!r}>"
