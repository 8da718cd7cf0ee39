"""Back-propagation marks: our groups a peer is known to hold, learned from what it sent.

BP (Enes et al.) leaves out of a push the groups that came from the peer itself (the buffer
knows each group's origin). The same idea learned from content: when the peer sends deltas that
contain a group of ours it has not acknowledged, it holds that group, so pushing it back is
waste. This is what keeps a mesh from shipping a change both ways along a link. The marks are
the session's own (the buffer is never written by a session) and are dropped once the peer's
acknowledgement covers them.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from typing import Protocol

from crdtstate.replica_ids import writer_name
from crdtstate.types import CausalCrdt, Crdt, GCounter, PNCounter


class BufferedGroup(Protocol):
    """A group of the replica's delta buffer, as the marks read it."""

    @property
    def sequence(self) -> int: ...

    @property
    def origin(self) -> str: ...

    @property
    def deltas(self) -> dict[str, Crdt]: ...


class PushSource(Protocol):
    """The part of a session's `SyncSource` a push is collected from."""

    @property
    def id(self) -> str: ...

    def groups_after(self, after: int) -> Sequence[BufferedGroup]: ...

    def collect(
        self, after: int, *, exclude_origin: str | None = None, held: Container[int] = ()
    ) -> dict[str, Crdt]: ...


class RelayMarks(Protocol):
    """Relay avoidance (`antientropy.relays.PeerLinks`): marks groups the peer gets elsewhere."""

    def mark_relayed(self, groups: Iterable[BufferedGroup], held: HeldGroups) -> int: ...


class HeldGroups:
    """The sequences of our groups beyond its acknowledgement that the peer is known to hold."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: set[int] = set()

    def __contains__(self, sequence: object) -> bool:
        return sequence in self._held

    def __len__(self) -> int:
        return len(self._held)

    def mark(self, sequence: int) -> None:
        self._held.add(sequence)

    def learn(self, groups: Iterable[BufferedGroup], peer: str, received: dict[str, Crdt]) -> int:
        """Mark every group (not from `peer`, which holds those, nor marked yet) whose deltas
        `received`, sent by `peer`, contains. Returns how many were marked. A session passes
        only the groups it has not pushed yet: marks spare pushes, and checking every
        unacknowledged group on every frame would cost the square of the load."""
        marked = 0
        for group in groups:
            if group.origin == peer or group.sequence in self._held:
                continue
            if all(_contains(received.get(name), d) for name, d in group.deltas.items()):
                self._held.add(group.sequence)
                marked += 1
        return marked

    def mark_own_writes(
        self, groups: Iterable[BufferedGroup], peer: str, incarnation: int, us: str = ""
    ) -> int:
        """Mark every group (not from `peer`, nor marked yet) that holds only what the peer's
        current run wrote: it holds those, whoever relayed them to us. Only for the writer name
        of an in-memory run (`writer_name`), which a restart changes; and only for kinds whose
        deltas name every writer they carry (dots, counter entries). Groups from `us` (made
        here, so written by us) are not looked at. Returns how many."""
        writer = writer_name(peer, incarnation)
        marked = 0
        for group in groups:
            if group.origin in (peer, us) or group.sequence in self._held:
                continue
            if all(_written_only_by(writer, d) for d in group.deltas.values()):
                self._held.add(group.sequence)
                marked += 1
        return marked

    def forget_through(self, sequence: int) -> None:
        """The peer acknowledged every group up to `sequence`: marks there are not needed."""
        if self._held and min(self._held) <= sequence:
            self._held = {s for s in self._held if s > sequence}


def _written_only_by(writer: str, delta: Crdt) -> bool:
    """Whether `delta` carries updates of `writer` alone: a causal delta's context covers
    every dot it holds (and the dots it removes); a counter's entries are per writer."""
    if isinstance(delta, CausalCrdt):
        return delta.context.replicas() == {writer}
    if isinstance(delta, GCounter | PNCounter):
        return set(delta.version) == {writer}
    return False


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

    __slots__ = ("_learned", "_received", "limit")

    def __init__(self, limit: int = 256) -> None:
        # per object, the deltas received since the last push, joined only if a push reads
        # them (`Crdt.join`, one pass): a copy and a merge per received frame were made for
        # pushes that, with every group of the peer's marked held, mostly never looked
        self._received: dict[str, list[Crdt]] = {}
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
            known = self._received.get(name)
            if known is None:
                self._received[name] = [delta]  # never changed: the join copies
            elif known[0].kind == delta.kind:
                known.append(delta)

    def trim(self, deltas: dict[str, Crdt]) -> dict[str, Crdt]:
        """`deltas` less what the peer is known to hold (objects it holds whole dropped)."""
        if not self._received:
            return deltas
        trimmed: dict[str, Crdt] = {}
        for name, delta in deltas.items():
            received = self._received.get(name)
            if received is None or received[0].kind != delta.kind:
                trimmed[name] = delta  # (a declared class here, the wire's class there)
                continue
            known = type(received[0]).join(received)
            if len(received) > 1:
                self._received[name] = [known]  # joined once, whatever reads it next
            if (part := known.novel(delta)) is not None:
                # in the delta's class, so a declared map encodes its keys as declared
                trimmed[name] = part if type(part) is type(delta) else rewrap(delta, part)
        return trimmed

    def forget(self) -> None:
        self._received = {}
        self._learned = 0


def rewrap(like: Crdt, part: Crdt) -> Crdt:
    """`part` (a causal value of the wire's class) as `like`'s class: same store and context."""
    assert isinstance(part, CausalCrdt)
    return type(like)(part.store, part.context)  # type: ignore[call-arg]


def push_part(
    source: PushSource,
    start: int,
    peer: str | None,
    incarnation: str | None,
    held: HeldGroups,
    sent: SentByPeer,
    relays: RelayMarks | None = None,
) -> dict[str, Crdt]:
    """What a push to `peer` carries: the groups after `start`, less what back-propagation
    knows the peer holds (its own groups, its current run's writes, what it just sent us) and
    what `relays` knows the peer gets from elsewhere. `peer` None: no back-propagation,
    everything after `start`."""
    if peer is None:
        return source.collect(start)
    groups = source.groups_after(start)
    if relays is not None:
        relays.mark_relayed(groups, held)
    if incarnation is not None:  # the peer's own writes
        held.mark_own_writes(groups, peer, incarnation, source.id)
    deltas = sent.trim(source.collect(start, exclude_origin=peer, held=held))
    sent.forget()
    return deltas
