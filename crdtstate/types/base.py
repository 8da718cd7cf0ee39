"""The contract every CRDT type fulfils, and the registry the codec decodes by kind."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Self

import msgpack

from ..errors import DecodeError
from .clocks import VersionVector

if TYPE_CHECKING:
    from .yjs.clientids import ClientIdAllocator

#: The version of the wire form `[version, kind, payload]` (see `crdtstate.codec`). 2: causal
#: payloads name their writers once (`crdtstate.types.writers`); format 1 still decodes.
FORMAT_VERSION = 2
LEGACY_FORMAT_VERSION = 1
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

    @classmethod
    def join(cls, deltas: Sequence[Self]) -> Self:
        """The join of `deltas` (at least one) as one object, none of them changed: what a
        push ships for several buffered groups. It must hold every one of them whole, since
        the peer acknowledges them all; kinds whose `merge` can set part of a delta aside (a
        `Document`'s pycrdt holds back updates whose dependencies are missing) override it."""
        if len(deltas) == 1:
            return deltas[0]
        joined = deltas[0].copy()
        for delta in deltas[1:]:
            joined.merge(delta)
        return joined

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

    @classmethod
    def from_legacy_wire(cls, obj: Any) -> Self:
        """A payload of format 1; the same as format 2 except for the causal kinds."""
        return cls.from_wire(obj)

    @staticmethod
    @abstractmethod
    def digest_to_wire(digest: Any) -> Any: ...

    @staticmethod
    @abstractmethod
    def digest_from_wire(obj: Any) -> Any: ...

    @contextmanager
    def updating(
        self, replica: str, record: Callable[[Crdt], None], client_ids: ClientIdAllocator
    ) -> Iterator[None]:
        """Held around the updater of one `update` call (which receives the handle the
        containers register for this class).

        Most kinds need nothing; a `Document` wraps the updater in one pycrdt transaction
        (whose update becomes the delta) and takes its Yjs client id from `client_ids` (the
        replica's allocator).
        """
        yield

    def fingerprint(self) -> Any:
        """A canonical structure, equal exactly when states are (`Replica.digest` hashes it).

        The encoding itself for most kinds; a `Document`, whose encoding is not canonical,
        overrides it.
        """
        return [FORMAT_VERSION, self.kind, self.to_wire()]

    def savepoint(self) -> Savepoint:
        """A way back to the current state, for an updater that raises halfway.

        The default keeps a copy, which suits small states; the keyed causal types override it
        to save only the keys an update touches, so a big set or map is not copied per update.
        """
        return CopySavepoint(self)

    @classmethod
    def conform(cls, other: Crdt) -> Self:
        """`other` (same wire kind, maybe undeclared) as this class, validated by its
        declarations; `DecodeError` if it does not fit. Used on peers' deltas for typed kinds."""
        if type(other) is cls:
            return other
        if other.kind != cls.kind:
            raise DecodeError(f"expected kind {cls.kind!r}, got {other.kind!r}")
        plain = msgpack.unpackb(msgpack.packb(other.to_wire(), use_bin_type=True), raw=False)
        return cls.from_wire(plain)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class Savepoint(ABC):
    @abstractmethod
    def restore(self) -> None:
        """Put the state back as it was when the savepoint was taken."""

    def close(self) -> None:  # noqa: B027 - most savepoints have nothing to release
        """Stop tracking changes (the update succeeded)."""


class CopySavepoint(Savepoint):
    __slots__ = ("_saved", "_state")

    def __init__(self, state: Crdt) -> None:
        self._state = state
        self._saved = state.copy()

    def restore(self) -> None:
        for cls in type(self._state).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(self._saved, slot):
                    setattr(self._state, slot, getattr(self._saved, slot))


def kind_class(kind: Any) -> type[Crdt]:
    """The class registered for `kind`, or `DecodeError` for an unknown one."""
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise DecodeError(f"unknown CRDT kind {kind!r}")
    return cls
