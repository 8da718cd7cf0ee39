"""What an updater receives: Python-protocol views whose mutators are bound to the replica.

Each mutation is applied to the state the handle wraps and its delta goes to `record`, so the
deltas of one `update` call become one delta-group without the caller naming a replica id.
Maps hand out these same handles for their values (`maphandle.py`). Each handle is registered
for its classes at the end (`handle_registry.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableSet, Set
from typing import Any

from ..errors import InvalidValueError
from ..types import (
    AWSet,
    BoundedCounter,
    CausalCounter,
    DWFlag,
    EWFlag,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    PNCounter,
    RWSet,
)
from ..types.bounded import _amount
from .handle_registry import Record, register_handle


class _Handle:
    __slots__ = ("_record", "_replica", "_state")

    def __init__(self, state: Any, replica: str, record: Record) -> None:
        self._state = state
        self._replica = replica
        self._record = record

    @property
    def state(self) -> Any:
        return self._state


class CounterHandle(_Handle):
    """`increment(n=1)` / `decrement(n=1)`; `+=` and `-=` work, and it reads as an int."""

    __slots__ = ()

    @property
    def value(self) -> int:
        return self._state.value

    def increment(self, n: int = 1) -> None:
        self._record(self._state.increment(n, replica=self._replica))

    def decrement(self, n: int = 1) -> None:
        self._record(self._state.decrement(n, replica=self._replica))

    def set(self, target: int) -> None:
        """Move the counter to `target` by incrementing by the difference (as `n = n + d`)."""
        if not isinstance(target, int) or isinstance(target, bool):
            raise InvalidValueError(f"a counter holds integers, not {type(target).__name__}")
        self.increment(target - self._state.value)

    def __iadd__(self, n: int) -> CounterHandle:
        self.increment(n)
        return self

    def __isub__(self, n: int) -> CounterHandle:
        self.decrement(n)
        return self

    def __add__(self, n: int) -> int:
        return self._state.value + n

    __radd__ = __add__

    def __sub__(self, n: int) -> int:
        return self._state.value - n

    def __int__(self) -> int:
        return self._state.value

    def __index__(self) -> int:
        return self._state.value

    def __eq__(self, other: object) -> bool:
        return self._state.value == other

    def __lt__(self, other: int) -> bool:
        return self._state.value < other

    def __gt__(self, other: int) -> bool:
        return self._state.value > other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<counter {self._state.value}>"


class GrowSetHandle(_Handle, Set[Any]):
    """A GSet as a `collections.abc.Set` with `add` (it cannot remove)."""

    __slots__ = ()

    def __contains__(self, element: object) -> bool:
        return element in self._state

    def __iter__(self) -> Iterator[Any]:
        return iter(self._state.value)

    def __len__(self) -> int:
        return len(self._state.value)

    def add(self, element: Any) -> None:
        if element not in self._state:
            self._record(self._state.add(element, replica=self._replica))

    def update(self, elements: Iterable[Any]) -> None:
        for element in elements:
            self.add(element)

    def assign(self, elements: Iterable[Any]) -> None:
        """Make the set hold exactly `elements` (what `m[k] = {...}` does in a map)."""
        wanted = set(elements)
        for element in self._state.value - wanted:
            self.discard(element)
        self.update(wanted)

    def discard(self, element: Any) -> None:
        if element in self._state:
            raise InvalidValueError("a GSet only grows: use an AWSet or RWSet to remove")

    def __repr__(self) -> str:
        return f"<set {set(self._state.value)!r}>"


class SetHandle(GrowSetHandle, MutableSet[Any]):
    """An AWSet or RWSet seen as a `collections.abc.MutableSet`."""

    __slots__ = ()

    def add(self, element: Any) -> None:
        self._record(self._state.add(element, replica=self._replica))

    def discard(self, element: Any) -> None:
        if element in self._state:
            self._record(self._state.remove(element, replica=self._replica))

    def clear(self) -> None:
        if self._state.value:
            self._record(self._state.clear(replica=self._replica))


class FlagHandle(_Handle):
    """`enable()` / `disable()`; reads as a bool."""

    __slots__ = ()

    @property
    def value(self) -> bool:
        return self._state.value

    def enable(self) -> None:
        self._record(self._state.enable(replica=self._replica))

    def disable(self) -> None:
        self._record(self._state.disable(replica=self._replica))

    def assign(self, on: bool) -> None:
        self.enable() if on else self.disable()

    def __bool__(self) -> bool:
        return self._state.value

    def __eq__(self, other: object) -> bool:
        return self._state.value == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<flag {self._state.value}>"


class RegisterHandle(_Handle):
    """`value` reads the register and assigning it writes; `clear()` empties it."""

    __slots__ = ()

    @property
    def value(self) -> Any:
        return self._state.value

    @value.setter
    def value(self, new: Any) -> None:
        self.assign(new)

    def assign(self, new: Any) -> None:
        self._record(self._state.assign(new, replica=self._replica))

    def clear(self) -> None:
        if self._state.value not in (None, ()):
            self._record(self._state.clear(replica=self._replica))

    def __eq__(self, other: object) -> bool:
        return self._state.value == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<register {self._state.value!r}>"


class BoundedHandle:
    """What an updater receives: the mutators bound to the replica, and `try_spend`."""

    __slots__ = ("_record", "_replica", "_state")

    def __init__(self, state: BoundedCounter, replica: str, record: Record):
        self._state = state
        self._replica = replica
        self._record = record

    @property
    def state(self) -> BoundedCounter:
        return self._state

    @property
    def value(self) -> int:
        return self._state.value

    @property
    def rights(self) -> int:
        return self._state.rights(self._replica)

    def try_spend(self, n: int = 1) -> bool:
        """Spend `n` if this replica holds the rights; no waiting, no messages."""
        if self._state.rights(self._replica) < _amount(n):
            return False
        self._record(self._state.spend(n, replica=self._replica))
        return True

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name not in ("mint", "mint_up_to", "spend", "transfer", "request", "grant", "advance"):
            raise AttributeError(name)
        method = getattr(self._state, name)

        def mutate(*args: Any, **kwargs: Any) -> None:
            if name != "advance":
                kwargs["replica"] = self._replica
            self._record(method(*args, **kwargs))

        return mutate


register_handle(GCounter, CounterHandle)
register_handle(PNCounter, CounterHandle)
register_handle(CausalCounter, CounterHandle)
register_handle(GSet, GrowSetHandle)
register_handle(AWSet, SetHandle)
register_handle(RWSet, SetHandle)
register_handle(EWFlag, FlagHandle)
register_handle(DWFlag, FlagHandle)
register_handle(MVRegister, RegisterHandle)
register_handle(LWWRegister, RegisterHandle)
register_handle(BoundedCounter, BoundedHandle)
