"""An ORMap seen as a `collections.abc.MutableMapping` inside `update`.

`m[k]` returns the nested handle (a set, a counter, a nested map...), an empty one of the
declared kind when `k` is absent; plain values (LWW registers) read like a dict's values, with
`KeyError` when absent. `m[k] = v` makes the value at `k` hold `v` (sets the register, makes a
set hold exactly those elements, moves a counter to `v`), so dict-style updaters written for a
`LockedContainer(dict)` run unchanged. `del m[k]` is an observed reset.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from ..errors import InvalidValueError
from ..types import Crdt, LWWRegister, ORMap
from ..types.causal import CausalCrdt
from .handle_registry import handle_for, register_handle
from .handles import CounterHandle, FlagHandle, GrowSetHandle, Record, RegisterHandle, _Handle

_MISSING = object()


class MapHandle(MutableMapping[Any, Any]):
    __slots__ = ("_loose", "_record", "_replica", "_state")

    def __init__(
        self,
        state: ORMap,
        replica: str,
        record: Record,
        loose: dict[tuple[int, Any], CausalCrdt] | None = None,
    ) -> None:
        self._state = state
        self._replica = replica
        self._record = record
        # Values read or emptied during this update but not held by their map: every handle
        # on (map, key) must mutate the same object. Shared by nested handles; made when
        # first needed (`_loose_values`): most updates only put.
        self._loose = loose

    def _loose_values(self) -> dict[tuple[int, Any], CausalCrdt]:
        loose = self._loose
        if loose is None:
            loose = self._loose = {}
        return loose

    @property
    def state(self) -> ORMap:
        return self._state

    @property
    def value(self) -> dict[Any, Any]:
        return self._state.value

    def _resolve(self, key: Any) -> tuple[Any, CausalCrdt]:
        key = self._state.key_spec.check(key)
        value = self._state.store.entries.get(key)
        if value is None:
            loose = self._loose_values()
            value = loose.get((id(self._state), key))
            if value is None:
                value = loose[(id(self._state), key)] = self._state.new_value()
        return key, value

    def _nested(self, key: Any, value: CausalCrdt) -> Any:
        state = self._state
        state._touch(key)

        def record(delta: Crdt) -> None:
            self._record(state.adopt(key, value, lambda _: delta))
            if key not in state.store.entries:
                self._loose_values()[(id(state), key)] = value

        if isinstance(value, ORMap):
            return MapHandle(value, self._replica, record, self._loose_values())
        return handle_for(value, self._replica, record)

    def __getitem__(self, key: Any) -> Any:
        key, value = self._resolve(key)
        if isinstance(value, LWWRegister):
            if key not in self._state.store.entries:
                raise KeyError(key)
            return value.value
        return self._nested(key, value)

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self._state.store.entries:
            return self[key]
        return default

    def __setitem__(self, key: Any, new: Any) -> None:
        state = self._state
        plain = state.plain_cls
        if plain is not None and not isinstance(new, _Handle) and type(new) is not MapHandle:
            # a plain value, the common case
            spec = state.key_spec
            if not (spec._any_str and type(key) is str):  # (`check`'s own first test)
                key = spec.check(key)
            held = state.store.entries.get(key)
            # an absent key's loose register is empty (it was emptied, or never written):
            # writing a fresh one is the same
            if held is None or type(held) is plain:
                self._record(state.put_checked(key, held, new, self._replica, None))
                return
        key, value = self._resolve(key)
        handle = self._nested(key, value)
        if isinstance(new, _Handle) or type(new) is MapHandle:
            if new.state is value:
                return  # `m[k] += 1`: the handle already applied it
            new = new.state.value
        if type(handle) is RegisterHandle:  # plain values, the common case: no ABC checks
            handle.assign(new)
        elif isinstance(handle, MapHandle):
            if not isinstance(new, Mapping):
                raise InvalidValueError(f"a nested map takes a mapping, not {type(new).__name__}")
            for k in [k for k in handle if k not in new]:
                del handle[k]
            for k, v in new.items():
                handle[k] = v
        elif isinstance(handle, CounterHandle):
            handle.set(new)
        elif isinstance(handle, GrowSetHandle | FlagHandle | RegisterHandle):
            handle.assign(new)
        else:  # pragma: no cover - every held kind has a handle above
            raise InvalidValueError(f"cannot assign to a {value.kind} value")

    def __delitem__(self, key: Any) -> None:
        if key not in self._state.store.entries:
            raise KeyError(key)
        value = self._state.store.entries[key]
        self._record(self._state.remove(key, replica=self._replica))
        self._loose_values()[(id(self._state), key)] = value

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        state = self._state
        value = state.store.entries.get(key)
        if value is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        snapshot = value.value
        self._record(state.remove(key, replica=self._replica))  # `del self[key]`, inline
        self._loose_values()[(id(state), key)] = value
        return snapshot

    def clear(self) -> None:
        if self._state.store.entries:
            held = dict(self._state.store.entries)
            self._record(self._state.clear(replica=self._replica))
            for key, value in held.items():
                self._loose_values()[(id(self._state), key)] = value

    def __contains__(self, key: object) -> bool:
        return key in self._state.store.entries

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._state.store.entries))

    def __len__(self) -> int:
        return len(self._state.store.entries)

    def __repr__(self) -> str:
        return f"<map {self._state.value!r}>"


register_handle(ORMap, MapHandle)
