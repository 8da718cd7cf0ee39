"""A new CRDT type is one module: defining the class registers its kind with the codec, and
with no handle written for it an updater gets its mutators bound to the replica (README,
"Adding a type"). The type here lives in this test file and nowhere else."""

from __future__ import annotations

from typing import Any, Self

import pytest
import trio

from crdtstate import Crdt, Replica, VersionVector, codec
from crdtstate.containers import MutatorHandle, handle_for
from crdtstate.errors import DecodeError


class MaxInt(Crdt):
    """The largest integer anyone wrote: a join-semilattice under max."""

    kind = "test-maxint"
    __slots__ = ("n",)

    def __init__(self, n: int = 0) -> None:
        self.n = n

    @property
    def value(self) -> int:
        return self.n

    def raise_to(self, n: int, *, replica: str) -> MaxInt:
        if n <= self.n:
            return MaxInt()
        self.n = n
        return MaxInt(n)

    def merge(self, other: MaxInt) -> bool:
        changed = other.n > self.n
        self.n = max(self.n, other.n)
        return changed

    def copy(self) -> Self:
        return type(self)(self.n)

    def is_bottom(self) -> bool:
        return self.n == 0

    @property
    def version(self) -> VersionVector:
        return VersionVector()

    def digest(self) -> int:
        return self.n

    def delta_since(self, digest: int) -> Self:
        return type(self)(self.n if self.n > digest else 0)

    def novel(self, delta: MaxInt) -> Self | None:
        return type(self)(delta.n) if delta.n > self.n else None

    def to_wire(self) -> int:
        return self.n

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        if type(obj) is not int or obj < 0:
            raise DecodeError("test-maxint: expected a non-negative int")
        return cls(obj)

    @staticmethod
    def digest_to_wire(digest: int) -> int:
        return digest

    @staticmethod
    def digest_from_wire(obj: Any) -> int:
        return MaxInt.from_wire(obj).n


def test_a_type_defined_in_one_module_replicates_through_containers() -> None:
    async def main() -> None:
        async with Replica.open("a") as a, Replica.open("b") as b:
            left, right = a.container("top", MaxInt), b.container("top", MaxInt)
            assert await left.update(lambda h: h.raise_to(7)) == 7
            assert await right.update(lambda h: h.raise_to(3)) == 3
            for source, target in ((a, b), (b, a)):
                missing = source.deltas_since(target.object_digests())
                wire = {name: codec.decode(codec.encode(d)) for name, d in missing.items()}
                await target.apply_remote(wire, origin=source.id)
            assert await left.get() == await right.get() == 7
            assert a.digest() == b.digest()

    trio.run(main)


def test_the_default_handle_binds_only_mutators() -> None:
    state, deltas = MaxInt(), []
    handle = handle_for(state, "r", deltas.append)
    assert isinstance(handle, MutatorHandle)
    handle.raise_to(4)
    assert (handle.value, [d.n for d in deltas]) == (4, [4])
    with pytest.raises(AttributeError, match="no mutator 'merge'"):
        handle.merge(MaxInt(9))  # not a mutator: it takes no replica
    assert state.n == 4
