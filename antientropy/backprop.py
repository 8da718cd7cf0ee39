"""Back-propagation marks: our groups a peer is known to hold, learned from what it sent.

BP (Enes et al.) leaves out of a push the groups that came from the peer itself (the buffer
knows each group's origin). The same idea learned from content: when the peer sends deltas that
contain a group of ours it has not acknowledged, it holds that group, so pushing it back is
waste. This is what keeps a mesh from shipping a change both ways along a link. The marks are
the session's own (the buffer is never written by a session) and are dropped once the peer's
acknowledgement covers them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from crdtstate.types import Crdt
from crdtstate.types.causal import CausalCrdt


class BufferedGroup(Protocol):
    """A group of the replica's delta buffer, as the marks read it."""

    @property
    def sequence(self) -> int: ...

    @property
    def origin(self) -> str: ...

    @property
    def deltas(self) -> dict[str, Crdt]: ...


class HeldGroups:
    """The sequences of our groups beyond its acknowledgement that the peer is known to hold."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: set[int] = set()

    def __contains__(self, sequence: object) -> bool:
        return sequence in self._held

    def __len__(self) -> int:
        return len(self._held)

    def learn(self, groups: Iterable[BufferedGroup], peer: str, received: dict[str, Crdt]) -> int:
        """Mark every group (not from `peer`, which holds those, nor marked yet) whose deltas
        `received`, sent by `peer`, contains. Returns how many were marked."""
        marked = 0
        for group in groups:
            if group.origin == peer or group.sequence in self._held:
                continue
            if all(_contains(received.get(name), d) for name, d in group.deltas.items()):
                self._held.add(group.sequence)
                marked += 1
        return marked

    def forget_through(self, sequence: int) -> None:
        """The peer acknowledged every group up to `sequence`: marks there are not needed."""
        if self._held and min(self._held) <= sequence:
            self._held = {s for s in self._held if s > sequence}


def _contains(big: Crdt | None, small: Crdt) -> bool:
    if big is None or type(big) is not type(small):
        return False
    part = big.novel(small)
    return part is None or part.is_bottom()


class SentByPeer:
    """The join of the causal deltas the peer sent us since our last push.

    Everything a peer sends is part of its state, so this join X is a lower bound of it, and a
    push need only carry `X.novel(D)` instead of D: X ⊔ X.novel(D) = X ⊔ D (the RR step), so the
    peer, holding X, ends up with the same state. In a mesh this strips from a relayed group
    what the peer itself just pushed to us (its own changes, or a third replica's that reached
    it first); whole groups it holds are left out by the marks above. Forgotten at each push,
    and after `limit` received deltas without one, so it stays small.
    """

    __slots__ = ("_joined", "_learned", "limit")

    def __init__(self, limit: int = 256) -> None:
        self._joined: dict[str, Crdt] = {}
        self._learned = 0
        self.limit = limit

    def learn(self, received: dict[str, Crdt]) -> None:
        self._learned += 1
        if self._learned > self.limit:
            self.forget()
            return
        for name, delta in received.items():
            if not isinstance(delta, CausalCrdt):
                continue  # documents: pycrdt may hold parts back, no exact novel part
            known = self._joined.get(name)
            if known is None:
                self._joined[name] = delta.copy()  # the driver applies `delta` itself
            elif known.kind == delta.kind:
                known.merge(delta)

    def trim(self, deltas: dict[str, Crdt]) -> dict[str, Crdt]:
        """`deltas` less what the peer is known to hold (objects it holds whole dropped)."""
        if not self._joined:
            return deltas
        trimmed: dict[str, Crdt] = {}
        for name, delta in deltas.items():
            known = self._joined.get(name)
            if known is None or known.kind != delta.kind:
                trimmed[name] = delta  # (a declared class here, the wire's class there)
            elif (part := known.novel(delta)) is not None:
                # in the delta's class, so a declared map encodes its keys as declared
                trimmed[name] = part if type(part) is type(delta) else rewrap(delta, part)
        return trimmed

    def forget(self) -> None:
        self._joined = {}
        self._learned = 0


def rewrap(like: Crdt, part: Crdt) -> Crdt:
    """`part` (a causal value of the wire's class) as `like`'s class: same store and context."""
    assert isinstance(part, CausalCrdt)
    return type(like)(part.store, part.context)  # type: ignore[call-arg]
