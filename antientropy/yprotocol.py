"""The y-protocols wire format (what y-websocket speaks), Sans-I/O: bytes <-> messages.

A frame is `varuint type` then its body: type 0 (sync) carries a varuint step and one
length-prefixed payload (step 1: a state vector; step 2 and update: a Yjs update); type 1
(awareness) carries a length-prefixed awareness update (per client: id, clock, JSON state,
"null" when the client left); type 3 asks for everyone's awareness. `decode_frame` validates
everything it parses and raises `ProtocolError`; Yjs updates are validated where they are
applied (`Document.from_wire`). `Awareness` is one room's table of client states.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from crdtstate.errors import DecodeError, ProtocolError
from crdtstate.types.yjs import ybinary

MESSAGE_SYNC = 0
MESSAGE_AWARENESS = 1
MESSAGE_AUTH = 2
MESSAGE_QUERY_AWARENESS = 3
SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE = 0, 1, 2
MAX_AWARENESS_STATE = 64 * 1024  # bytes of JSON per client


@dataclass(frozen=True, slots=True)
class SyncStep1:
    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    update: bytes


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    update: bytes


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    client: int
    clock: int
    state: dict[str, Any] | None  # None: the client is gone


@dataclass(frozen=True, slots=True)
class AwarenessUpdate:
    entries: tuple[AwarenessEntry, ...]


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


Message = SyncStep1 | SyncStep2 | SyncUpdate | AwarenessUpdate | QueryAwareness


def decode_frame(data: bytes) -> Message:
    if not isinstance(data, bytes | bytearray):
        raise ProtocolError("y-protocol frames are binary")
    try:
        return _decode(ybinary.Reader(bytes(data)))
    except DecodeError as exc:
        raise ProtocolError(f"malformed y-protocol frame: {exc}") from exc


def _decode(r: ybinary.Reader) -> Message:
    kind = r.varuint()
    if kind == MESSAGE_SYNC:
        step = r.varuint()
        payload = r.bytes_()
        if step == SYNC_STEP1:
            ybinary.read_state_vector(payload)
            return SyncStep1(payload)
        if step == SYNC_STEP2:
            return SyncStep2(payload)
        if step == SYNC_UPDATE:
            return SyncUpdate(payload)
        raise DecodeError(f"unknown sync step {step}")
    if kind == MESSAGE_AWARENESS:
        return AwarenessUpdate(read_awareness(r.bytes_()))
    if kind == MESSAGE_QUERY_AWARENESS:
        return QueryAwareness()
    raise DecodeError(f"unknown message type {kind}")


def read_awareness(data: bytes) -> tuple[AwarenessEntry, ...]:
    r = ybinary.Reader(data)
    entries = []
    for _ in range(r.count(3)):
        client, clock, raw = r.varuint(), r.varuint(), r.string()
        if len(raw) > MAX_AWARENESS_STATE:
            raise DecodeError("an awareness state is too large")
        try:
            state = json.loads(raw) if raw else None
        except (ValueError, RecursionError) as exc:  # too deep a nesting: RecursionError
            raise DecodeError("an awareness state is not JSON") from exc
        if state is not None and not isinstance(state, dict):
            raise DecodeError("an awareness state is not a JSON object")
        entries.append(AwarenessEntry(client, clock, state))
    return tuple(entries)


def _sync(step: int, payload: bytes) -> bytes:
    return b"".join(
        [
            ybinary.write_varuint(MESSAGE_SYNC),
            ybinary.write_varuint(step),
            ybinary.write_varuint(len(payload)),
            payload,
        ]
    )


def sync_step1(state_vector: bytes) -> bytes:
    return _sync(SYNC_STEP1, state_vector)


def sync_step2(update: bytes) -> bytes:
    return _sync(SYNC_STEP2, update)


def sync_update(update: bytes) -> bytes:
    return _sync(SYNC_UPDATE, update)


def awareness_frame(entries: tuple[AwarenessEntry, ...] | list[AwarenessEntry]) -> bytes:
    parts = [ybinary.write_varuint(len(entries))]
    for e in entries:
        raw = json.dumps(e.state, separators=(",", ":")).encode()
        parts += [ybinary.write_varuint(e.client), ybinary.write_varuint(e.clock)]
        parts += [ybinary.write_varuint(len(raw)), raw]
    body = b"".join(parts)
    return ybinary.write_varuint(MESSAGE_AWARENESS) + ybinary.write_varuint(len(body)) + body


class Awareness:
    """One room's awareness: client id -> (clock, state), joined as y-protocols does (a
    higher clock wins; an equal clock with a null state removes)."""

    def __init__(self) -> None:
        self.clocks: dict[int, int] = {}
        self.states: dict[int, dict[str, Any]] = {}

    def apply(self, entries: tuple[AwarenessEntry, ...]) -> list[AwarenessEntry]:
        """Join `entries`; return those that changed the table (to broadcast)."""
        applied = []
        for e in entries:
            clock = self.clocks.get(e.client, -1)
            leaving = e.clock == clock and e.state is None and e.client in self.states
            if e.clock > clock or leaving:
                self.clocks[e.client] = e.clock
                if e.state is None:
                    self.states.pop(e.client, None)
                else:
                    self.states[e.client] = e.state
                applied.append(e)
        return applied

    def remove(self, clients: set[int]) -> list[AwarenessEntry]:
        """Mark `clients` gone (their connection closed): the entries to broadcast."""
        gone = []
        for client in sorted(clients):
            if client in self.states:
                clock = self.clocks[client] + 1
                gone.append(AwarenessEntry(client, clock, None))
        self.apply(tuple(gone))
        return gone

    def entries(self) -> list[AwarenessEntry]:
        return [AwarenessEntry(c, self.clocks[c], s) for c, s in sorted(self.states.items())]
