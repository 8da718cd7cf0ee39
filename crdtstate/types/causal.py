"""The base of every causal type: a dot store beside a causal context.

Written once here: the join, the digest, the optimal delta and the RR step. The digest is the
context plus the dots the store holds (Enes et al.: what decides which join-irreducibles a
peer lacks): the optimal delta is then the store dots the peer has not seen, the context dots
it has not seen, and the dots it still holds that we have seen removed. The discipline every
mutator keeps: each update, removals included, adds a fresh dot to the context, so "the peer's
context covers mine" means "the peer has seen every update" (then the delta is bottom).

Inside an ORMap a causal value shares the map's context object (`copy_into(ctx)`); its own
mutators then draw dots from, and record them in, the map's context.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, NamedTuple, Self

from ..errors import DecodeError
from . import wire, writers
from .base import Crdt, Savepoint
from .bulkjoin import join_many
from .clocks import CausalContext, Dot, VersionVector
from .kernel import DotFun, KeyedDots, novel_context

MAX_DEPTH = 16  # how deep ORMaps may nest, in states and on the wire


class CausalDigest(NamedTuple):
    """What a peer has seen (`context`) and which of those dots it still holds (`held`).

    `held` is a set of dots kept as ranges (a `CausalContext`, though it is no context): a
    store holds long runs of each replica's dots, so the digest grows with the runs, not with
    the elements.
    """

    context: CausalContext
    held: CausalContext


class CausalCrdt(Crdt):
    """A dot store (`store`) and the causal context (`context`) that says what it has seen."""

    __slots__ = ("_savepoint", "context", "store")
    keyed: ClassVar[bool] = True  # store has snapshot_key/restore_key: cheap savepoints

    def __init__(self, store: Any = None, context: CausalContext | None = None) -> None:
        self.store = store if store is not None else self.empty_store()
        self.context = context if context is not None else CausalContext()
        self._savepoint: KeyedSavepoint | None = None

    @classmethod
    def _of(cls, store: Any, context: CausalContext) -> Self:
        """Adopt `store` and `context` as they are: the constructor of mutators' deltas (no
        defaults to fill, nothing nested to bind: the caller built both for this value)."""
        obj = object.__new__(cls)
        obj.store = store
        obj.context = context
        obj._savepoint = None
        return obj

    @classmethod
    def empty_store(cls) -> Any:
        return KeyedDots()

    # -- the lattice --------------------------------------------------------------------------

    def merge(self, other: Self) -> bool:
        changed = self.store.join(self.context, other.store, other.context)
        return self.context.merge(other.context) or changed

    @classmethod
    def join(cls, deltas: Sequence[Self]) -> Self:
        """The join of `deltas` in one pass when their stores allow it (`bulkjoin`), else
        pairwise; equal either way, none of them changed."""
        if len(deltas) > 2:
            joined = join_many(deltas)
            if joined is not None:
                return joined  # type: ignore[return-value]
        return super().join(deltas)

    def copy(self) -> Self:
        return self.copy_into(self.context.copy())

    def copy_into(self, ctx: CausalContext) -> Self:
        """A copy of this value whose context is `ctx` (a map's shared context)."""
        return type(self)(self.store.copy(), ctx)

    def bind(self, ctx: CausalContext) -> None:
        """Share `ctx` (an enclosing map's context) from now on."""
        self.context = ctx

    def is_bottom(self) -> bool:
        return self.store.is_empty() and self.context.is_empty()

    @property
    def version(self) -> VersionVector:
        return self.context.version_vector()

    def digest(self) -> CausalDigest:
        return CausalDigest(self.context.copy(), CausalContext.of(self.store.dots()))

    def delta_since(self, digest: CausalDigest) -> Self:
        """Adds the peer has not seen, and the removals of dots the peer still holds.

        The context sent is (ours - seen) | ((held & ours) - kept), `kept` being the dots our
        store holds: the second part tells the peer of removals it missed. Never skipped because
        the peer's context covers ours: a later add re-tags an element and carries the earlier
        dot as mere context, so a relay's minimal part can teach a peer that dot without its
        removal (found by the simulator). Computed as ours - (seen - (held - kept)), which is
        the same set, on ranges: O(ranges + our store), however many dots the peer claims.
        """
        seen, held = digest
        missing = self.context.minus(seen)  # our store's dots the peer lacks are all in here
        store = self.empty_store() if missing.is_empty() else self.store.part_among(missing, seen)
        if held.is_empty():
            return type(self)(store, missing)
        # held and seen by us, but not held by us: removals the peer missed
        candidates = held.minus(held.minus(self.context))
        if not candidates.has_more_dots_than(self.store.dot_total()):
            stale = CausalContext.of(d for d in candidates.dots() if not self.store.holds(d))
        else:
            stale = candidates.minus(CausalContext.of(self.store.dots()))
        return type(self)(store, self.context.minus(seen.minus(stale)))

    def novel(self, delta: Self) -> Self | None:
        """The part of `delta` not in self (dot by dot, for the reason in `delta_since`).

        When self has seen none of the delta's dots (a peer's fresh updates, the common
        case), the part shares the delta's store instead of copying it key by key: deltas
        are never changed once made (the buffer joins copies), and a received one is kept
        by the buffer as it is anyway (`relay_redundant`). The copy it saves was most of the
        long-lived objects a sync made (each key's value, store and an empty context)."""
        seen = self.context.contains
        store = delta.store
        if any(seen(d) for d in store.dots()):
            store = store.unseen_by(self.context)
        context = novel_context(self.store, self.context, delta.store, delta.context)
        part = type(self)(store, context)
        return None if part.is_bottom() else part

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CausalCrdt):
            return (
                self.kind == other.kind
                and self.store == other.store
                and self.context == other.context
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # -- helpers for mutators -----------------------------------------------------------------

    def _event(self, replica: str) -> Dot:
        """A fresh dot of `replica`, recorded in the context."""
        return self.context.take_next(replica)

    def _removal(self, observed: Iterable[Dot], replica: str) -> Self:
        """The delta dropping `observed`: those dots plus an event dot, context only.

        The event dot makes the removal itself visible in the context (see the module doc).
        """
        observed = list(observed)
        if not observed:
            return type(self)()
        return type(self)(context=CausalContext.of([*observed, self._event(replica)]))

    def _touch(self, key: Any) -> None:
        if self._savepoint is not None:
            self._savepoint.touch(key)

    def savepoint(self) -> Savepoint:
        if not self.keyed:
            return super().savepoint()
        return KeyedSavepoint(self)

    # -- wire ---------------------------------------------------------------------------------

    def to_wire(self) -> list[Any]:
        """[writers, store, context] (format 2, `crdtstate.types.writers`)."""
        names, index, context = writers.context_to_wire(self.context)
        return [names, self.store_to_wire(index), context]

    def store_to_wire(self, index: writers.WriterIndex) -> Any:
        """The store, each dot as [writer index, counter] (`index`: the payload's table)."""
        raise NotImplementedError

    @classmethod
    def store_from_wire(cls, obj: Any, claims: writers.DotClaims, depth: int) -> Any:
        """Validate and build a store; every dot must be in the context and unseen so far
        (`claims.claim`)."""
        raise NotImplementedError

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        names, store, context = wire.expect_list(obj, cls.kind, length=3)
        names, ctx = writers.context_from_wire(names, context, cls.kind)
        return cls(cls.store_from_wire(store, writers.DotClaims(ctx, names), 0), ctx)

    @classmethod
    def from_legacy_wire(cls, obj: Any) -> Self:
        """Format 1 ([store, context], replica names in every dot): journals and snapshots
        written before format 2 still load."""
        store, context = wire.expect_list(obj, cls.kind, length=2)
        ctx = wire.causal_context(context)
        return cls(cls.store_from_wire(store, writers.DotClaims(ctx, None), 0), ctx)

    @staticmethod
    def digest_to_wire(digest: CausalDigest) -> list[Any]:
        """[writers, seen as runs, held as runs]: O(writers + runs) bytes, each name once."""
        names, _, seen = writers.context_to_wire(digest.context)
        return [names, seen, writers.dots_to_wire(digest.held, names)]

    @staticmethod
    def digest_from_wire(obj: Any) -> CausalDigest:
        names, seen, held = wire.expect_list(obj, "digest", length=3)
        names, context = writers.context_from_wire(names, seen, "digest")
        digest = CausalDigest(
            context, writers.dots_from_wire(held, names, "digest held dots", every=False)
        )
        if not digest.context.covers(digest.held):
            raise DecodeError("digest: it holds dots its context has not seen")
        return digest


def keyed_to_wire(store: KeyedDots[Any], encode_key: Any, index: writers.WriterIndex) -> list[Any]:
    """[[key, [dots...]], ...] in a canonical order (same state, same bytes)."""
    from .values import sort_key

    pairs = [
        [encode_key(k), sorted([index[d.replica], d.counter] for d in dots)]
        for k, dots in store.pairs()
    ]
    if len(pairs) > 1:  # (a delta's one key needs no order, nor its msgpack sort key)
        pairs.sort(key=lambda pair: sort_key(pair[0]))
    return pairs


def keyed_from_wire(
    obj: Any, claims: writers.DotClaims, decode_key: Any, what: str
) -> KeyedDots[Any]:
    store: KeyedDots[Any] = KeyedDots()
    for pair in wire.expect_list(obj, what):
        raw_key, dots = wire.expect_list(pair, what, length=2)
        key = decode_key(raw_key)
        if key in store:
            raise DecodeError(f"{what}: repeated key")
        raw_dots = wire.expect_list(dots, what)
        if not raw_dots:
            raise DecodeError(f"{what}: a key without dots")
        for raw in raw_dots:
            store.put(key, claims.claim(raw))
    return store


def fun_to_wire(store: DotFun[Any], encode_value: Any, index: writers.WriterIndex) -> list[Any]:
    values = store.values
    items = sorted(values.items()) if len(values) > 1 else values.items()  # (one: most)
    return [[index[d.replica], d.counter, encode_value(v)] for d, v in items]


def fun_from_wire(obj: Any, claims: writers.DotClaims, decode_value: Any, what: str) -> DotFun[Any]:
    store: DotFun[Any] = DotFun()
    for item in wire.expect_list(obj, what):
        writer, counter, raw = wire.expect_list(item, what, length=3)
        d = claims.claim([writer, counter])
        store.values[d] = decode_value(raw)
    return store


class KeyedSavepoint(Savepoint):
    """Saves each key the first time an update touches it, and the context at the first
    touch: every mutator of a keyed type touches a key before it draws a dot, so an update
    that touches nothing has changed nothing, and saving waits until something is changed.
    The context is saved as its vector and cloud (copies handed back on restore)."""

    __slots__ = ("_cloud", "_keys", "_state", "_vector")

    def __init__(self, state: CausalCrdt) -> None:
        self._state = state
        self._vector: dict[str, int] | None = None
        self._cloud: dict[str, Any] | None = None  # None: empty (made on restore, if ever)
        self._keys: dict[Any, Any] = {}
        state._savepoint = self

    def _save_context(self) -> None:
        context = self._state.context
        self._vector = context.vector.copy()
        if context.cloud:
            self._cloud = {r: list(ranges) for r, ranges in context.cloud.items()}

    def touch(self, key: Any) -> None:
        if key not in self._keys:
            if self._vector is None:
                self._save_context()
            self._keys[key] = self._state.store.snapshot_key(key)

    def touch_written(self, key: Any, held: Any) -> None:
        """`touch` for a map's plain register `held` (of its `plain_cls`) under `key` (or
        None) about to be written by `write_in_place`, which replaces the register's dict of
        writes instead of changing it, or removed by `ORMap.remove`, which replaces its store:
        the dict itself is kept, not a copy of the register, nor its class, which `restore`
        takes from the map (a map put's or delete's savepoint)."""
        keys = self._keys
        if key not in keys:
            if self._vector is None:  # `_save_context`, inline: every map put comes here
                context = self._state.context
                self._vector = context.vector.copy()
                if context.cloud:
                    self._cloud = {r: list(ranges) for r, ranges in context.cloud.items()}
            keys[key] = None if held is None else held.store.values

    def restore(self) -> None:
        state = self._state
        if self._vector is not None:  # restored in place: nested values share this object
            state.context.vector = self._vector
            state.context.cloud = self._cloud if self._cloud is not None else {}
        for key, saved in self._keys.items():
            if type(saved) is dict:  # saved by `touch_written`: the register's old writes
                saved = state.plain_cls._of(DotFun(saved), state.context)  # type: ignore[attr-defined]
            state.store.restore_key(key, saved)
        self.close()

    def close(self) -> None:
        self._state._savepoint = None


_DECLARED: dict[tuple[type, Any], type] = {}


def declared_class(base: type[CausalCrdt], params: Any, label: str, **attrs: Any) -> type:
    """The subclass of `base` declaring `attrs` (cached: `X[int] is X[int]`).

    It keeps the wire kind of `base`, so peers without the declaration still decode it; the
    declaration is checked locally (`Crdt.conform`).
    """
    cls = _DECLARED.get((base, params))
    if cls is None:
        name = f"{base.__name__}[{label}]"
        cls = type(name, (base,), {"__slots__": (), "__qualname__": name, **attrs})
        cls.__module__ = base.__module__
        _DECLARED[(base, params)] = cls
    return cls
