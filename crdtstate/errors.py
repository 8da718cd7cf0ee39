"""Every exception the library raises, in one place, so callers can catch by family."""

from __future__ import annotations


class CrdtStateError(Exception):
    """Base of every error raised by crdtstate, antientropy and transport."""


class DecodeError(CrdtStateError, ValueError):
    """Bytes from a peer or a file are malformed: nothing of them entered any state."""


class InvalidValueError(CrdtStateError, TypeError):
    """A value cannot be stored in a CRDT (wrong type, unencodable, failed validation)."""


class KindMismatchError(CrdtStateError, TypeError):
    """An object name is already bound to a CRDT of another kind."""


class ProtocolError(CrdtStateError):
    """A peer broke the anti-entropy protocol; its session ends with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthenticationError(ProtocolError):
    """A peer failed to prove knowledge of the shared secret."""


class StaleReplicaError(ProtocolError):
    """This replica's state is behind its own writes: a peer holds more of its writer's dots
    or counter entries for object `name` (`theirs`) than it does (`ours`). Only a database
    restored from an older copy, a copied database, or a second replica running under the same
    id can cause it; a write made now would reuse dots the peers hold with other content.

    A `ProtocolError`, so the session that delivered the deltas refuses them (nothing joined)
    and closes with this reason, as for any group a replica cannot take; it is not the peer's
    fault. Once raised, the replica is stale (`Replica.own_writes.stale`): local updates raise
    it too, until the database is reopened under a new id (README, "Restoring a backup").
    """

    def __init__(self, reason: str, *, name: str, writer: str, theirs: int, ours: int) -> None:
        super().__init__(reason)
        self.name = name
        self.writer = writer
        self.theirs = theirs
        self.ours = ours


class ReplicaClosedError(CrdtStateError, RuntimeError):
    """The replica behind a container has been closed."""


class NoHistoryError(CrdtStateError, LookupError):
    """`rollback` asked for more steps than the container's history holds."""


class StorageError(CrdtStateError):
    """A replica's database cannot be opened, read or written."""


class NotADatabaseError(StorageError):
    """The file is not a crdtstate database (another format, or another program's SQLite)."""


class IncompatibleFormatError(StorageError):
    """The database was written by a storage format version this library cannot read."""


class CorruptDatabaseError(StorageError):
    """The database is damaged: its structure or a stored record fails validation."""


class DatabaseInUseError(StorageError):
    """Another replica (in this or another process) has the database open."""


class ReplicaIdMismatchError(StorageError, ValueError):
    """The database belongs to a different replica id than the one asked for."""


class InsufficientRightsError(CrdtStateError, ValueError):
    """A bounded counter was asked to spend or give away rights this replica does not hold."""


class InvalidArgumentError(CrdtStateError, ValueError):
    """An argument is refused before anything starts: a replica id, a listen address, a peer
    URL, a count out of range."""


class AsyncUpdaterError(CrdtStateError, TypeError):
    """`update` was given an updater that returned an awaitable (an `async def`): the update
    would be lost, so it is refused. An updater must be a plain function; await before."""


class PeersMissingError(CrdtStateError, TimeoutError):
    """`Mesh.wait_for_peers` timed out; the message names the peers still missing."""

    def __init__(self, message: str, missing: frozenset[str] | int) -> None:
        super().__init__(message)
        self.missing = missing


class ListenError(CrdtStateError, OSError):
    """A mesh (or its metrics endpoint) cannot listen where asked: the port is taken, or the
    address is not one of this host's."""
