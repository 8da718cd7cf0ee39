"""Relay avoidance: a group is not forwarded to a peer that gets it from where it came from.

In a full mesh every replica pushes what it made to each peer, and each receiver, by plain
delta shipping, forwards what it received to the others: every update crosses each link twice,
and the second copy is waste. So each replica announces to its peers the replicas it holds an
open session with (`Links`), and a push to peer P leaves out the groups whose origin (the peer
we received them from) P announced: that origin holds them and has its own session with P,
which ships them, either in its answer to P's digest (if P's session with it opened after) or
in a push. The origin may itself have left them out for the same reason; each such step goes
one hop back along the path the group took, so it ends at a replica that pushes it (at the
latest, the writer).

What makes this safe when links fail: P announces again whenever its set of links changes, and
a peer that sees a replica disappear from P's set resynchronises P by digests (`_resync`): P
then gets everything we hold that it lacks, including what we left out because of that link.
A link that drops and comes back between two announcements needs nothing from us: the new
session does its own digest exchange. This relies on announcements arriving in order and
never being lost (a websocket: a lost frame closes the connection, and a new session starts
with nothing announced), so sessions on links that may lose or reorder frames (the simulator)
neither announce nor leave anything out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .backprop import BufferedGroup, HeldGroups
from .events import SessionState
from .messages import Links


class LinkBook:
    """The peers this replica holds an open session with (one book per mesh, shared by its
    sessions); `version` changes with every change, so each session knows to announce.

    It also remembers the links each peer last announced (`heard`, the latest `max_heard`
    peers), beyond the session that heard them: a reconnect may resume where the last session
    stopped (`antientropy.digests`), past groups left out because of a link the peer has lost
    since, and the peer's first announcement in the new session must reveal that loss."""

    __slots__ = ("_open", "heard", "max_heard", "version")

    def __init__(self, max_heard: int = 1024) -> None:
        self._open: set[str] = set()
        self.version = 0
        self.heard: dict[str, frozenset[str]] = {}
        self.max_heard = max_heard

    def remember(self, peer: str, links: frozenset[str]) -> None:
        self.heard.pop(peer, None)
        self.heard[peer] = links
        while len(self.heard) > self.max_heard:
            del self.heard[next(iter(self.heard))]

    def up(self, peer: str) -> None:
        if peer not in self._open:
            self._open.add(peer)
            self.version += 1

    def down(self, peer: str) -> None:
        if peer in self._open:
            self._open.discard(peer)
            self.version += 1

    @property
    def peers(self) -> frozenset[str]:
        return frozenset(self._open)


class PeerLinks:
    """One session's side of relay avoidance: what we announced to the peer, and the replicas
    the peer announced it holds a session with (so it needs none of their groups from us)."""

    __slots__ = ("announced", "book", "heard_here", "theirs", "us")

    def __init__(self, book: LinkBook | None, us: str) -> None:
        self.book = book  # None: this session neither announces nor leaves anything out
        self.us = us  # our replica id
        self.announced = -1  # the book's version last announced to the peer
        self.theirs: frozenset[str] = frozenset()
        self.heard_here = False  # the peer announced its links in this session

    def announcement(self, peer: str | None) -> Links | None:
        """The `Links` message to send the peer now, if the book changed since the last."""
        if self.book is None or self.book.version == self.announced:
            return None
        self.announced = self.book.version
        return Links(peers=sorted(self.book.peers - {peer}))

    def learn(self, message: Links, peer: str) -> bool:
        """The links of `peer`; True when one it announced before (in this session, or to the
        book before it) is gone: it may lack groups we left out because of that link, and must
        be resynchronised."""
        if self.book is None:
            return False
        peers = frozenset(message.peers) - {self.us}  # what we made reaches it from us only
        before = self.theirs if self.heard_here else self.book.heard.get(peer, frozenset())
        self.heard_here = True
        self.theirs = peers
        self.book.remember(peer, peers)
        return not before <= peers

    def unsettled(self, groups: Sequence[BufferedGroup]) -> Iterable[BufferedGroup]:
        """Of our groups not pushed yet, those the peer may hold only because someone relayed
        them to it: what back-propagation needs to look for in what it sends. Once it has
        announced its links, a group from one of them is left out anyway, and a group we made
        reaches it from us alone (no replica relays to a peer linked to the group's origin),
        so only the rest are worth checking against every frame it sends."""
        if self.book is None or not self.theirs:
            return groups
        skip = self.theirs | {self.us}
        return [group for group in groups if group.origin not in skip]

    def mark_relayed(self, groups: Iterable[BufferedGroup], held: HeldGroups) -> int:
        """Mark, as held by the peer, the groups whose origin ships them to it itself."""
        theirs = self.theirs
        if not theirs:
            return 0
        marked = 0
        for group in groups:
            if group.origin in theirs and group.sequence not in held:
                held.mark(group.sequence)
                marked += 1
        return marked


class Relaying:
    """The relay-avoidance half of `PeerSession` (a mixin: the state lives in the session)."""

    state: SessionState
    peer: str | None
    _links: PeerLinks

    if TYPE_CHECKING:  # provided by PeerSession and Retransmission

        def _queue(self, message: Any) -> bytes: ...
        def _resync(self, now: float) -> None: ...

    def _announce_links(self) -> None:
        if self.state is SessionState.OPEN and (message := self._links.announcement(self.peer)):
            self._queue(message)

    def _on_links(self, message: Links, now: float) -> list[Any]:
        """The peer's links changed; resynchronise it if one it had is gone."""
        if self.peer is not None and self._links.learn(message, self.peer):
            self._resync(now)
        return []
