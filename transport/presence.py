"""Yjs awareness shared by a replica's rooms and its peers (in memory only).

A `PresenceHub` joins what this replica's Yjs clients announce (through `YjsRooms`) and what
peers send (through the mesh's sessions) into one `PresenceTable`, then hands what changed to
the rooms' clients and to every peer but the sender. `run` expires peers' entries that were
not renewed for `timeout` seconds (30, as y-protocols). Each replica has one hub
(`hub_for(replica)`), which `YjsRooms` and `open_mesh` both use unless given another, so a
node's Yjs clients and its peers meet without wiring, and a node without Yjs clients still
relays.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import anyio

from antientropy.presence import PRESENCE_TIMEOUT, PresenceTable, Rooms
from antientropy.yprotocol import AwarenessEntry

log = logging.getLogger(__name__)

Deliver = Callable[[str, list[AwarenessEntry]], None]  # room, entries that changed
Send = Callable[[Rooms], None]  # entries by room, for one peer


_hubs: weakref.WeakKeyDictionary[Any, PresenceHub] = weakref.WeakKeyDictionary()


def hub_for(replica: Any) -> PresenceHub:
    """The replica's own hub, made on first use (one per replica object)."""
    hub = _hubs.get(replica)
    if hub is None:
        hub = _hubs[replica] = PresenceHub()
    return hub


class PresenceHub:
    """This replica's awareness: its Yjs rooms and its peers' sessions subscribe to it."""

    def __init__(self, *, timeout: float = PRESENCE_TIMEOUT) -> None:
        self.table = PresenceTable(timeout=timeout)
        self._listeners: list[Deliver] = []
        self._peers: dict[str, Send] = {}
        self._changed = anyio.Event()

    def listen(self, deliver: Deliver) -> None:
        """Call `deliver(room, entries)` with every change (the rooms' Yjs clients)."""
        self._listeners.append(deliver)

    # -- the rooms' side ----------------------------------------------------------------------

    def publish(self, room: str, entries: Iterable[AwarenessEntry]) -> list[AwarenessEntry]:
        """A Yjs client of ours announced `entries`; ProtocolError if they cannot be relayed."""
        changed = self.table.apply(room, entries, source=None, now=anyio.current_time())
        self._spread(room, changed, source=None)
        return changed

    def remove(self, room: str, clients: Iterable[int]) -> list[AwarenessEntry]:
        """Yjs clients of ours left: everyone learns it (their clock bumped, state null)."""
        gone = self.table.remove(room, clients, now=anyio.current_time())
        self._spread(room, gone, source=None)
        return gone

    # -- the mesh's side ----------------------------------------------------------------------

    def add_peer(self, peer: str, send: Send) -> None:
        """A session with `peer` is open: it is told everything live, then every change."""
        self._peers[peer] = send
        snapshot = self.table.snapshot()
        if snapshot:
            send(snapshot)

    def remove_peer(self, peer: str) -> None:
        """The session ended. What came through it stays until it expires (another path may
        still carry it; only a renewal would tell)."""
        self._peers.pop(peer, None)

    def receive(self, peer: str, rooms: Rooms) -> None:
        """Entries from `peer`: deliver and relay whatever is news."""
        now = anyio.current_time()
        for room, entries in rooms.items():
            changed = self.table.apply(room, entries, source=peer, now=now)
            self._spread(room, changed, source=peer)

    async def run(self) -> None:
        """Expire peers' entries that were not renewed in time, until cancelled."""
        while True:
            due = self.table.next_expiry()
            if due is None:  # nothing can expire until something changes
                self._changed = anyio.Event()
                await self._changed.wait()
                continue
            # A change only ever adds a later expiry than this one: no need to wake for it.
            await anyio.sleep_until(due)
            for room, removed in self.table.expire(anyio.current_time()).items():
                log.debug("awareness of %d client(s) in %r expired", len(removed), room)
                for deliver in list(self._listeners):
                    deliver(room, removed)

    def _spread(self, room: str, changed: list[AwarenessEntry], *, source: str | None) -> None:
        if not changed:
            return
        self._changed.set()  # wakes `run` if it was waiting for anything to expire
        for deliver in list(self._listeners):
            deliver(room, changed)
        for peer, send in list(self._peers.items()):
            if peer != source:
                send({room: changed})
