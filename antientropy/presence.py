"""Yjs awareness (presence) shared across a mesh, Sans-I/O: who is where, never stored.

Awareness is ephemeral: it lives in memory only (no journal, no snapshot, no delta buffer) and
travels between replicas as `Presence` frames on the anti-entropy sessions. Each entry carries
its Yjs client's clock, so a replica applies only newer clocks and relays only what changed
(to every peer but the one it came from): in any topology a frame stops where it is old news.

`PresenceTable` is one replica's view: room -> `yprotocol.Awareness`, plus where each entry
came from and when it was last renewed. Entries learnt from peers expire `timeout` seconds
(30, as in y-protocols) after their last renewal; y-protocols clients renew every 15 s with a
new clock, which reaches every replica, so only the entries of clients whose replica went away
(or that stopped renewing) expire. Entries of this replica's own Yjs clients never expire:
they are removed (clock bumped, state null, relayed) when the client disconnects. The table
is bounded (clients and characters of state), so no peer or client can make it grow forever.
`PresenceOutbox` holds what waits for one peer, the latest entry per client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crdtstate.errors import ProtocolError

from .events import SessionState
from .messages import MAX_CLOCK, MAX_NAME, MAX_PRESENCE_ENTRIES, MAX_PRESENCE_STATE, Presence
from .yprotocol import Awareness, AwarenessEntry

log = logging.getLogger(__name__)

PRESENCE_TIMEOUT = 30.0  # seconds without renewal before a peer's entry is dropped
MAX_CLIENTS = 10_000  # entries (live or recently removed) one replica tracks, all rooms
MAX_BYTES = 16 * 1024 * 1024  # characters of JSON state one replica holds, all rooms
ENTRY_OVERHEAD = 32  # msgpack bytes of an entry besides its room name and state
Rooms = Mapping[str, Iterable[AwarenessEntry]]


def encode_state(state: dict[str, Any] | None) -> str | None:
    """The JSON text of a state for the wire, or ProtocolError if it cannot travel."""
    if state is None:
        return None
    try:
        text = json.dumps(state, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ProtocolError(f"an awareness state cannot be encoded: {exc}") from exc
    if len(text) > MAX_PRESENCE_STATE:
        raise ProtocolError("an awareness state is too large")
    return text


def decode_state(text: str | None) -> dict[str, Any] | None:
    """A state from a peer's JSON text: a JSON object (or null), or ProtocolError."""
    if text is None:
        return None
    try:
        state = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("malformed presence: a state is not JSON") from exc
    if not isinstance(state, dict):
        raise ProtocolError("malformed presence: a state is not a JSON object")
    return state


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_entry(room: str, entry: AwarenessEntry) -> int:
    """Refuse (ProtocolError) an entry that could not be relayed in a `Presence` frame;
    else the length of its state's JSON text."""
    if len(room) > MAX_NAME:
        raise ProtocolError("an awareness room name is too long")
    if not (0 <= entry.client <= MAX_CLOCK and 0 <= entry.clock <= MAX_CLOCK):
        raise ProtocolError("an awareness client id or clock is out of range")
    return len(encode_state(entry.state) or "")


def read_presence(message: Presence) -> dict[str, list[AwarenessEntry]]:
    """The entries of a peer's frame by room; ProtocolError if a state is malformed."""
    rooms: dict[str, list[AwarenessEntry]] = {}
    for room, client, clock, text in message.entries:
        entry = AwarenessEntry(client, clock, decode_state(text))
        check_entry(room, entry)  # what we could not relay, we refuse
        rooms.setdefault(room, []).append(entry)
    return rooms


@dataclass(slots=True)
class _Meta:
    source: str | None  # the peer it came from; None: a Yjs client of this replica
    renewed: float
    size: int = 0  # characters of its state's JSON text (0 once removed)


class PresenceTable:
    """One replica's awareness of every room, fed by its Yjs clients and its peers. It holds
    at most `max_clients` entries and `max_bytes` of states: beyond, new ones are ignored."""

    def __init__(
        self,
        *,
        timeout: float = PRESENCE_TIMEOUT,
        max_clients: int = MAX_CLIENTS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.timeout = timeout
        self.max_clients = max_clients
        self.max_bytes = max_bytes
        self.bytes = 0  # characters of JSON state held
        self._rooms: dict[str, Awareness] = {}
        self._meta: dict[tuple[str, int], _Meta] = {}
        self._full_warned = False

    def __len__(self) -> int:
        return len(self._meta)

    def states(self, room: str) -> dict[int, dict[str, Any]]:
        found = self._rooms.get(room)
        return dict(found.states) if found else {}

    def entries(self, room: str) -> list[AwarenessEntry]:
        found = self._rooms.get(room)
        return found.entries() if found else []

    def snapshot(self) -> dict[str, list[AwarenessEntry]]:
        """Every live entry by room: what a newly connected peer is told."""
        return {name: a.entries() for name, a in self._rooms.items() if a.states}

    def apply(
        self, room: str, entries: Iterable[AwarenessEntry], *, source: str | None, now: float
    ) -> list[AwarenessEntry]:
        """Join entries from a Yjs client (`source=None`) or a peer; return those that changed
        the table (to deliver and relay). ProtocolError if one could not be relayed."""
        sized = [(entry, check_entry(room, entry)) for entry in entries]
        awareness = self._rooms.get(room) or Awareness()
        fresh, clients, used = [], len(self._meta), self.bytes
        for entry, size in sized:  # (conservative: as if every entry were applied)
            meta = self._meta.get((room, entry.client))
            grow = size - (meta.size if meta else 0)
            if (meta is None and clients >= self.max_clients) or used + grow > self.max_bytes:
                if not self._full_warned:
                    log.warning("awareness full (%d clients, %d chars)", len(self), self.bytes)
                    self._full_warned = True
                continue
            clients += meta is None
            used += max(grow, 0)
            fresh.append(entry)
        sizes = {id(entry): size for entry, size in sized}
        changed = awareness.apply(tuple(fresh))
        for entry in changed:
            self._set(room, entry.client, _Meta(source, now, sizes[id(entry)]))
        if awareness.clocks:
            self._rooms[room] = awareness
        return changed

    def _set(self, room: str, client: int, meta: _Meta) -> None:
        old = self._meta.get((room, client))
        self.bytes += meta.size - (old.size if old else 0)
        self._meta[(room, client)] = meta

    def remove(self, room: str, clients: Iterable[int], *, now: float) -> list[AwarenessEntry]:
        """This replica's Yjs clients left: their removals (clock bumped) to deliver and relay."""
        awareness = self._rooms.get(room)
        if awareness is None:
            return []
        gone = awareness.remove(set(clients))
        for entry in gone:
            self._set(room, entry.client, _Meta(None, now))
        return gone

    def expire(self, now: float) -> dict[str, list[AwarenessEntry]]:
        """Drop peers' entries not renewed within `timeout` and forget removals as old.

        Returns the removals for this replica's Yjs clients (same clock, state null, as
        y-protocols announces a timeout); they are not relayed: every replica expires alone.
        """
        removed: dict[str, list[AwarenessEntry]] = {}
        for (room, client), meta in list(self._meta.items()):
            if now < meta.renewed + self.timeout:
                continue
            awareness = self._rooms[room]
            if client not in awareness.states:  # a removal old enough: forget its clock
                del self._meta[(room, client)]
                del awareness.clocks[client]
                if not awareness.clocks:
                    del self._rooms[room]
            elif meta.source is not None:
                entry = AwarenessEntry(client, awareness.clocks[client], None)
                awareness.apply((entry,))
                self._set(room, client, _Meta(meta.source, now))
                removed.setdefault(room, []).append(entry)
        if len(self._meta) < self.max_clients and self.bytes < self.max_bytes:
            self._full_warned = False
        return removed

    def next_expiry(self) -> float | None:
        """When `expire` next has something to do (None: nothing ever expires as things are)."""
        times = [
            meta.renewed + self.timeout
            for (room, client), meta in self._meta.items()
            if meta.source is not None or client not in self._rooms[room].states
        ]
        return min(times, default=None)


class PresenceOutbox:
    """Entries waiting to be sent to one peer, the latest per client: however often states
    change, a slow peer costs one entry per client."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, int], AwarenessEntry] = {}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def add(self, rooms: Rooms) -> None:
        for room, entries in rooms.items():
            for entry in entries:
                held = self._pending.get((room, entry.client))
                if held is None or (entry.clock, entry.state is None) >= (
                    held.clock,
                    held.state is None,
                ):
                    self._pending[(room, entry.client)] = entry

    def drain(self, max_frame_bytes: int) -> list[Presence]:
        """Frames of at most `max_frame_bytes` (about) and `MAX_PRESENCE_ENTRIES` entries."""
        frames: list[Presence] = []
        chunk: list[tuple[str, int, int, str | None]] = []
        used = 0
        for (room, client), entry in sorted(self._pending.items()):
            text = encode_state(entry.state)
            size = ENTRY_OVERHEAD + len(room.encode()) + len((text or "").encode())
            if size > max_frame_bytes - ENTRY_OVERHEAD:
                log.warning("awareness of client %d exceeds the frame limit: not sent", client)
                continue
            if chunk and (used + size > max_frame_bytes or len(chunk) >= MAX_PRESENCE_ENTRIES):
                frames.append(Presence(entries=chunk))
                chunk, used = [], 0
            chunk.append((room, client, entry.clock, text))
            used += size
        if chunk:
            frames.append(Presence(entries=chunk))
        self._pending.clear()
        return frames


class PresenceSharing:
    """The presence half of `PeerSession` (a mixin: the state lives in the session)."""

    state: Any
    _presence: PresenceOutbox

    def share_presence(self, rooms: Mapping[str, Iterable[AwarenessEntry]]) -> None:
        """Send the peer these awareness entries (by room) with the next frames; entries of one
        client not yet sent are replaced by its newer ones. Dropped unless the session is open."""
        if self.state is SessionState.OPEN:
            self._presence.add(rooms)
