"""A Yjs document (pycrdt `Doc`) as a delta-state CRDT: text, arrays and maps that merge.

The mapping onto the `Crdt` contract:
- state: a list of Yjs updates (`log`) whose replay is the document, plus the `Doc` built from
  them once something reads or edits it. A delta is the same thing with one update, kept as
  bytes: buffering, relaying and encoding a delta never builds a `Doc`.
- digest: the state vector, and the delete set (Yjs state vectors do not cover deletions):
  itself when it encodes in `DIGEST_DELETIONS_BYTES`, else a fingerprint. `delta_since` is
  `get_update(their state vector)`; when their vector covers ours it is bottom if they hold
  our deletions, or just the deletions they lack. With only a fingerprint to go on, a
  differing delete set is sent whole (the receiver's `novel` then keeps only what is new).
- merge: `apply_update`, one bounded transaction per update; it changed the state exactly when
  pycrdt emitted a transaction event (new structs or new deletions). An update whose
  dependencies have not arrived is held back by pycrdt (pending: no event, and left out of
  `get_update()`); we keep it in `_pending`, ship and store it with the state, and drop it
  once pycrdt has integrated it, so a merge never loses an update.
- join of deltas (what one push ships for several groups): their updates side by side, never
  applied to a `Doc` (which would hold back the ones that depend on text outside them);
  `to_wire` merges them with `pycrdt.merge_updates` in chunks of `MERGE_CHUNK` (it is
  lossless, and quadratic only in the number of updates merged at once).
- novel (RR): each update stripped of the structs we hold (`pycrdt.get_update(update, our
  state vector)`); an update left with no structs is novel only for the deletions we lack, and
  is cut down to those. Exact, so a relay never re-buffers an update it already had.
- the delta of a local update is the update pycrdt emits for its one transaction.
- compaction: `get_update()` of the built `Doc` replaces the log once the log outweighs it
  (never `merge_updates`, which grows quadratically on long histories).
- rollback: pycrdt cannot undo a transaction, so a savepoint remembers the log length and a
  failed updater is undone by rebuilding the `Doc` from the log (`savepoint`). The log is what
  makes that possible; compaction keeps it within about twice the encoded document.
- the wire form is the update bytes; they are not canonical (two equal documents may encode
  differently), so `fingerprint` (state vector + delete set) is what `Replica.digest` hashes.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from .. import ybinary
from ..clientids import ClientIdAllocator
from ..clocks import VersionVector
from ..docsnapshot import DocumentSnapshot
from ..errors import DecodeError
from .base import Crdt, Savepoint

if TYPE_CHECKING:
    from pycrdt import Doc

# pycrdt (and the anyio it pulls in) is imported where a document is first built, not with
# crdtstate: processes that never hold a document start faster.

log = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 16 * 1024 * 1024
COMPACT_MIN_BYTES = 64 * 1024  # compact once the log exceeds max(this, the compacted size)
COMPACT_MAX_UPDATES = 2048
MERGE_CHUNK = 64  # updates merged at once on the wire (merge_updates is quadratic in count)
MAX_WIRE_UPDATES = 1 << 16  # updates one delta may carry on the wire
DIGEST_DELETIONS_BYTES = 4096
FORMAT_VERSION = 1
Listener = Callable[[bytes], None]


class DocDigest(NamedTuple):
    state: dict[int, int]  # Yjs state vector: client -> clock
    fingerprint: bytes  # ybinary.fingerprint of the delete set
    deleted: ybinary.DeleteSet | None  # the delete set itself, when it is small


class Document(Crdt):
    kind = "document"
    __slots__ = (
        "_client_id",
        "_compacted_bytes",
        "_deleted",
        "_doc",
        "_events",
        "_listeners",
        "_log",
        "_log_bytes",
        "_pending",
        "_roots",
        "_roots_typed",
        "_snapshot",
        "_unverified",
        "_writing",
    )

    def __init__(self, *updates: bytes) -> None:
        self._log = [u for u in updates if u != ybinary.EMPTY_UPDATE]
        self._log_bytes = sum(map(len, self._log))
        self._compacted_bytes = 0
        # received updates pycrdt holds back until their dependencies arrive (see merge)
        self._pending: list[bytes] = []
        # several updates from the wire: some may be held back, so compaction checks them
        self._unverified = len(self._log) > 1
        self._doc: Doc | None = None
        self._client_id: int | None = None
        self._roots: dict[str, type[Any]] = {}
        self._roots_typed = False  # every root of the Doc is in _roots (see _infer_roots)
        # kept current once read; None until something needs it (a digest, a novel deletion)
        self._deleted: ybinary.DeleteSet | None = {}
        self._events: list[tuple[bytes, bytes]] = []  # (update, delete set) not yet processed
        self._listeners: list[Listener] = []
        self._snapshot: weakref.ref[DocumentSnapshot] | None = None
        self._writing = False  # inside an updater's transaction: snapshots are read at once

    # -- the built document -------------------------------------------------------------------

    def _built(self) -> Doc:
        if self._doc is None:
            self._rebuild()
        assert self._doc is not None
        return self._doc

    def _rebuild(self) -> None:
        """A fresh `Doc` from the log (after a failed updater, or to take our client id)."""
        from pycrdt import Doc

        self._before_change()
        self._roots_typed = False
        doc = Doc(client_id=self._client_id) if self._client_id is not None else Doc()
        for update in (*self._log, *self._pending):
            doc.apply_update(update)
        doc.observe(self._on_transaction)
        for name, cls in self._roots.items():
            doc.get(name, type=cls)
        self._doc = doc
        self._events.clear()
        self._deleted = None

    def _on_transaction(self, event: Any) -> None:
        # Runs inside pycrdt's commit: only record; the caller decides what the event means.
        self._events.append((event.update, event.delete_set))

    def _settle(self) -> list[bytes]:
        """Take in the transactions since the last call: log them, track deletions."""
        updates = []
        for update, deleted in self._events:
            if self._deleted is not None and deleted != ybinary.EMPTY_DELETE_SET:
                ybinary.union(self._deleted, ybinary.read_delete_set(ybinary.Reader(deleted)))
            self._log.append(update)
            self._log_bytes += len(update)
            updates.append(update)
        self._events.clear()
        if self._log_bytes > max(COMPACT_MIN_BYTES, 2 * self._compacted_bytes) or (
            len(self._log) > COMPACT_MAX_UPDATES
        ):
            self._compact()
        return updates

    def _compact(self) -> None:
        """Replace the log by one update of the built `Doc`, keeping what pycrdt holds back
        (`get_update()` leaves it out)."""
        full = self._built().get_update()
        self._pending = self._held_back([*(self._log if self._unverified else ()), *self._pending])
        self._unverified = False
        self._log = [full] if full != ybinary.EMPTY_UPDATE else []
        self._log_bytes = self._compacted_bytes = len(full)

    def _held_back(self, updates: list[bytes]) -> list[bytes]:
        """The `updates` (already applied) that pycrdt has not integrated: structs beyond our
        state vector, or deletions of items we do not hold yet. Duplicates are dropped."""
        if not updates:
            return []
        import pycrdt

        ours = self._built().get_state()
        state: ybinary.StateVector | None = None
        held: list[bytes] = []
        for update in dict.fromkeys(updates):
            deleted = ybinary.deletions_only(pycrdt.get_update(update, ours))
            if deleted is None:
                held.append(update)
                continue
            if deleted:
                state = ybinary.read_state_vector(ours) if state is None else state
                if any(
                    clock + length > state.get(client, 0)
                    for client, ranges in deleted.items()
                    for clock, length in ranges
                ):
                    held.append(update)
        return held

    def _notify(self, updates: list[bytes]) -> None:
        for listener in list(self._listeners):
            for update in updates:
                listener(update)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(update)` for every update that changes this document (local or
        merged), after it is applied; returns the function that removes the listener."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- roots ------------------------------------------------------------------------------

    def root(self, name: str, cls: type[Any]) -> Any:
        """The root `name` as `cls` (Text, Array or Map), remembered for reading it back."""
        from ..dochandle import check_root_name

        self._roots[check_root_name(name)] = cls
        return self._built().get(name, type=cls)

    def root_type(self, name: str) -> type[Any] | None:
        if name not in self._roots:
            self._infer_roots()
        return self._roots.get(name)

    def _infer_roots(self) -> None:
        """Type the roots that reached us from peers and were never declared here, by what
        they hold: keys make a map, strings a text, other items an array; empty ones wait."""
        from pycrdt import Array, Map, Text

        doc = self._built()
        if self._roots_typed:
            return
        names = list(doc.keys())
        for name in names:
            if name in self._roots:
                continue
            if len(doc.get(name, type=Map)):
                self._roots[name] = Map
            elif any(isinstance(part, str) for part, *_ in doc.get(name, type=Text).diff()):
                self._roots[name] = Text
            elif len(doc.get(name, type=Array)):
                self._roots[name] = Array
        # local updates only add declared roots: until a merge, there is nothing new to type
        self._roots_typed = all(name in self._roots for name in names)

    @property
    def value(self) -> DocumentSnapshot:
        """The roots as plain values (see `DocumentSnapshot`): one object while nothing changes,
        each root read only when asked for, so an ignored `update()` result costs nothing."""
        snapshot = self._snapshot() if self._snapshot is not None else None
        if snapshot is None:
            self._built()
            self._infer_roots()
            snapshot = DocumentSnapshot(self, dict(sorted(self._roots.items())))
            if self._writing:
                snapshot.freeze()  # the updater goes on changing the document
            else:
                self._snapshot = weakref.ref(snapshot)
        return snapshot

    def read_root(self, name: str, cls: type[Any]) -> Any:
        """Root `name` now, as a plain value: `str` for a text, lists and dicts otherwise."""
        from pycrdt import Text

        root = self._built().get(name, type=cls)
        return str(root) if cls is Text else root.to_py()

    def _before_change(self) -> None:
        """The document is about to change: the snapshot handed out last reads its roots now."""
        snapshot = self._snapshot() if self._snapshot is not None else None
        self._snapshot = None
        if snapshot is not None:
            snapshot.freeze()

    @property
    def client_id(self) -> int | None:
        return self._client_id

    # -- the lattice ------------------------------------------------------------------------

    def state_vector(self) -> dict[int, int]:
        return ybinary.read_state_vector(self._built().get_state())

    def encoded_state_vector(self) -> bytes:
        """The state vector as Yjs encodes it (sync step 1)."""
        return self._built().get_state()

    def update_since(self, state_vector: bytes) -> bytes:
        """What a Yjs peer with this (encoded, unvalidated) state vector lacks (sync step 2)."""
        clean = ybinary.encode_state_vector(ybinary.read_state_vector(state_vector))
        return self._built().get_update(clean)

    def merge(self, other: Self) -> bool:
        if other is self or other.is_bottom():
            return False
        doc = self._built()
        self._before_change()
        self._roots_typed = False
        self._events.clear()
        incoming = other.updates()
        for update in incoming:
            try:
                doc.apply_update(update)
            except ValueError as exc:  # from_wire validated it: this is pycrdt disagreeing
                self._settle()
                raise DecodeError(f"pycrdt refused an update: {exc}") from exc
        updates = self._settle()
        self._pending = self._held_back([*self._pending, *incoming])
        self._notify(updates)
        return bool(updates)

    @classmethod
    def join(cls, deltas: Sequence[Self]) -> Self:
        """The deltas' updates side by side (see the module doc): nothing is applied, so
        nothing can be held back and lost, and the cost is linear."""
        if len(deltas) == 1:
            return deltas[0]
        return cls(*(update for delta in deltas for update in delta.updates()))

    def updates(self) -> list[bytes]:
        """Updates whose replay is this state (the log compacted into one when our `Doc` can
        do it), with the updates pycrdt still holds back after them."""
        if len(self._log) > 1 and self._doc is not None:
            self._compact()
        return [*self._log, *self._pending]

    def copy(self) -> Self:
        """A twin holding the log alone (compacted first when our `Doc` can do it cheaply:
        the twin would otherwise replay every update to encode itself)."""
        if len(self._log) > 1 and self._doc is not None:
            self._compact()
        twin = type(self)()
        twin._log = list(self._log)
        twin._log_bytes = self._log_bytes
        twin._pending = list(self._pending)
        twin._unverified = self._unverified
        twin._roots = dict(self._roots)
        return twin

    def is_bottom(self) -> bool:
        if self._pending:
            return False
        if self._doc is None:
            return not self._log
        return self._doc.get_state() == b"\x00" and not self._deleted_set()

    @property
    def version(self) -> VersionVector:
        return VersionVector({str(c): n for c, n in self.state_vector().items()})

    def digest(self) -> DocDigest:
        deleted = self._deleted_set()
        small = len(ybinary.encode_delete_set(deleted)) <= DIGEST_DELETIONS_BYTES
        return DocDigest(
            self.state_vector(), ybinary.fingerprint(deleted), dict(deleted) if small else None
        )

    def _deleted_set(self) -> ybinary.DeleteSet:
        """The delete set, read from the `Doc` when something was deleted since last time."""
        doc = self._built()
        if self._deleted is None:
            tail = ybinary.Reader(doc.get_update(doc.get_state()))
            tail.varuint()  # no structs: what follows is the whole delete set
            self._deleted = ybinary.read_delete_set(tail)
        return self._deleted

    def delta_since(self, digest: DocDigest) -> Self:
        """What a peer with `digest` lacks, with the updates we hold back (a digest cannot
        say whether the peer has them; receiving them twice is harmless)."""
        return type(self)(*self._integrated_since(digest), *self._pending)

    def _integrated_since(self, digest: DocDigest) -> list[bytes]:
        state, fingerprint, deleted = digest
        if ybinary.covers(state, self.state_vector()):
            ours = self._deleted_set()
            if fingerprint == ybinary.fingerprint(ours):
                return []
            if deleted is not None:
                extra = ybinary.minus(ours, deleted)
                return [ybinary.delete_set_update(extra)] if extra else []
        return [self._built().get_update(ybinary.encode_state_vector(state))]

    def novel(self, delta: Self) -> Self | None:
        import pycrdt

        ours = self._built().get_state()
        parts: list[bytes] = []
        for update in delta.updates():
            stripped = pycrdt.get_update(update, ours)
            deleted = ybinary.deletions_only(stripped)
            if deleted is None:
                parts.append(stripped)  # structs we lack (and its deletions, harmlessly)
                continue
            extra = ybinary.minus(deleted, self._deleted_set())
            if extra:
                parts.append(ybinary.delete_set_update(extra))
        return type(self)(*parts) if parts else None

    def fingerprint(self) -> Any:
        """Canonical: equal for equal documents, whatever their update history."""
        return [
            FORMAT_VERSION,
            self.kind,
            [
                ybinary.encode_state_vector(self.state_vector()),
                ybinary.encode_delete_set(self._deleted_set()),
            ],
        ]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Document):
            return self.fingerprint() == other.fingerprint()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # -- wire -------------------------------------------------------------------------------

    def to_wire(self) -> bytes | list[bytes]:
        """One update, or several in order (a joined delta, or a state with updates pycrdt
        holds back). A joined delta's updates are merged in chunks, never applied."""
        if len(self._log) > 1 and self._doc is not None:
            self._compact()
        updates = [*self._log, *self._pending]
        if self._doc is None and len(updates) > 1:
            import pycrdt

            updates = [
                pycrdt.merge_updates(*updates[i : i + MERGE_CHUNK])
                for i in range(0, len(updates), MERGE_CHUNK)
            ]
        if not updates:
            return ybinary.EMPTY_UPDATE
        return updates[0] if len(updates) == 1 else updates

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        updates = obj if isinstance(obj, list) else [obj]
        if not updates or len(updates) > MAX_WIRE_UPDATES:
            raise DecodeError(f"document: expected 1 to {MAX_WIRE_UPDATES} updates")
        import pycrdt

        for update in updates:
            if not isinstance(update, bytes):
                raise DecodeError(f"document: expected update bytes, got {type(update).__name__}")
            if len(update) > MAX_UPDATE_BYTES:
                raise DecodeError(f"document: a {len(update)} byte update is over the limit")
            try:
                pycrdt.get_update(update, b"\x00")  # decodes every struct and the delete set
            except ValueError as exc:
                raise DecodeError(f"document: malformed Yjs update: {exc}") from exc
        return cls(*updates)

    @staticmethod
    def digest_to_wire(digest: DocDigest) -> list[Any]:
        out: list[Any] = [ybinary.encode_state_vector(digest.state), digest.fingerprint]
        if digest.deleted is not None:
            out.append(ybinary.encode_delete_set(digest.deleted))
        return out

    @staticmethod
    def digest_from_wire(obj: Any) -> DocDigest:
        if not (isinstance(obj, list) and len(obj) in (2, 3)):
            raise DecodeError("document digest: expected [state vector, fingerprint, deletions]")
        state, fingerprint, *rest = obj
        if not all(isinstance(part, bytes) for part in obj) or len(fingerprint) != 16:
            raise DecodeError("document digest: malformed fields")
        deleted = None
        if rest:
            reader = ybinary.Reader(rest[0])
            deleted = ybinary.read_delete_set(reader)
            if not reader.at_end():
                raise DecodeError("document digest: trailing bytes after the deletions")
        return DocDigest(ybinary.read_state_vector(state), fingerprint, deleted)

    # -- local updates ----------------------------------------------------------------------

    def handle(self, replica: str, record: Callable[[Crdt], None]) -> Any:
        from ..dochandle import DocumentRoots

        return DocumentRoots(self)

    @contextmanager
    def updating(
        self, replica: str, record: Callable[[Crdt], None], client_ids: ClientIdAllocator
    ) -> Iterator[Any]:
        """One pycrdt transaction around the updater; its update becomes the delta."""
        if self._client_id is None:
            self._client_id = client_ids.client_id(avoid=self.state_vector().keys())
            self._rebuild()  # a Doc's client id is fixed when it is made
        doc = self._built()
        self._before_change()
        self._events.clear()
        self._writing = True
        try:
            with doc.transaction(origin=replica):
                yield self.handle(replica, record)
        finally:
            self._writing = False
        updates = self._settle()
        if updates:
            record(type(self)(*updates))
            self._notify(updates)

    def savepoint(self) -> Savepoint:
        return DocumentSavepoint(self)


class DocumentSavepoint(Savepoint):
    """Undo a failed updater by rebuilding the `Doc` from the log as it was (see module doc)."""

    __slots__ = ("_document", "_length", "_roots")

    def __init__(self, document: Document) -> None:
        self._document = document
        self._length = len(document._log)
        self._roots = dict(document._roots)

    def restore(self) -> None:
        document = self._document
        document._roots = self._roots
        document._roots_typed = False
        if len(document._log) == self._length and not document._events:
            return  # the updater changed nothing
        del document._log[self._length :]
        document._log_bytes = sum(map(len, document._log))
        document._rebuild()
