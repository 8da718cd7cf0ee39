"""The contract every CRDT type fulfils, and the registry the codec decodes by kind."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from ..clocks import VersionVector
from ..errors import DecodeError

KINDS: dict[str, type[Crdt]] = {}


class Crdt(ABC):
    """A join-semilattice whose mutators mutate in place and return their delta.

    `merge` joins either a full state or a delta; `delta_since(digest)` is the smallest state
    that, joined into a replica whose state has that digest, brings it up to date; `novel(delta)`
    is the part of a received delta this state does not already hold (the RR step), or None.
    """

    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            KINDS[cls.kind] = cls

    @property
    @abstractmethod
    def value(self) -> Any:
        """An immutable plain-Python snapshot of the current value."""

    @abstractmethod
    def merge(self, other: Self) -> bool:
        """Join `other` (a state or a delta) into self; return whether self changed."""

    @abstractmethod
    def copy(self) -> Self: ...

    @abstractmethod
    def is_bottom(self) -> bool:
        """True for the empty state, the identity of `merge`."""

    @property
    @abstractmethod
    def version(self) -> VersionVector:
        """Per replica, how far its updates to this object have been seen."""

    @abstractmethod
    def digest(self) -> Any:
        """A compact summary of what this state has seen, for `delta_since` on a peer."""

    @abstractmethod
    def delta_since(self, digest: Any) -> Self:
        """What a replica whose state has `digest` lacks (bottom when it lacks nothing)."""

    @abstractmethod
    def novel(self, delta: Self) -> Self | None:
        """The part of `delta` not already in self, or None when it adds nothing."""

    @abstractmethod
    def to_wire(self) -> Any:
        """A canonical msgpack-able structure (same state, same bytes)."""

    @classmethod
    @abstractmethod
    def from_wire(cls, obj: Any) -> Self:
        """Inverse of `to_wire`; raises `DecodeError` on anything malformed."""

    @staticmethod
    @abstractmethod
    def digest_to_wire(digest: Any) -> Any: ...

    @staticmethod
    @abstractmethod
    def digest_from_wire(obj: Any) -> Any: ...

    @abstractmethod
    def handle(self, replica: str, record: Any) -> Any:
        """The object an updater receives: mutators bound to `replica`, deltas to `record`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


def kind_class(kind: Any) -> type[Crdt]:
    """The class registered for `kind`, or `DecodeError` for an unknown one."""
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise DecodeError(f"unknown CRDT kind {kind!r}")
    return cls
