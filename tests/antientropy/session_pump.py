"""A deterministic, network-free driver for `PeerSession`s: the thinnest possible simulator.

`Network` owns replicas joined by `Link`s, one `PeerSession` at each end. `run()` moves frames
in synchronous rounds: every session is asked for `data_to_send(now)`, then every frame
is fed to the other end's `receive_data(frame, now)`. The driver duties of DESIGN §4 are done
by the helper every driver uses (`antientropy.duties`): a `DeltasReceived` is joined with
`replica.apply_remote(deltas, origin=peer)` and then acknowledged; an `apply_remote` that
raises `ProtocolError` aborts the session. The replicas are synchronous (`Replica` below: the
core `ReplicaState` with containers), so no event loop runs.

Time only moves when a test says so (`advance`, `settle`), so nothing here depends on a clock.
Faults are opt-in and seeded: a `random.Random` decides which frames are dropped or duplicated,
and `faulty` restricts faults to some message types. Sessions are built with `ordered=False`
(a lossy link, as in the simulator) unless the network is made `ordered=True` (a websocket).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from antientropy import PeerSession, SessionState
from antientropy.duties import deliver
from antientropy.messages import (
    Ack,
    Auth,
    Bye,
    Claim,
    Delta,
    Digest,
    Hello,
    Resume,
    decode_message,
)
from antientropy.session import Event
from crdtstate.containers import handle_for
from crdtstate.replica_state import ReplicaState
from crdtstate.types import Crdt
from crdtstate.types.yjs.clientids import ClientIdAllocator

Message = Hello | Auth | Digest | Claim | Resume | Delta | Ack | Bye


class Replica(ReplicaState):
    """A replica with no event loop: the synchronous core, plus containers whose `update`
    returns at once (all the session tests need of `crdtstate.Replica`)."""

    @property
    def writer(self) -> str:
        """The name updates are written under: the id (this core keeps its counters)."""
        return self.id

    @cached_property
    def client_ids(self) -> ClientIdAllocator:
        return ClientIdAllocator(self.id, epoch=self.incarnation)

    def container(self, name: str, kind: type[Crdt]) -> Container:
        """The container of `name`, adopting an object a peer sent before as `kind` (the
        declared class), as `Replica.container` does."""
        existing = self.object(name, kind)
        if type(existing) is not kind:
            self.objects[name] = kind.conform(existing)
        return Container(self, name, kind)

    def snapshot(self, name: str) -> Crdt | None:
        obj = self.objects.get(name)
        return obj.copy() if obj is not None else None

    def names(self) -> list[str]:
        return sorted(self.objects)

    def apply_remote(self, deltas: dict[str, Crdt], origin: str) -> int | None:
        return self.join_remote(deltas, origin)[0]


@dataclass
class Container:
    replica: Replica
    name: str
    kind: type[Crdt]

    def get(self) -> Any:
        return self.replica.object(self.name, self.kind).value

    def update(self, updater: Callable[[Any], Any]) -> Any:
        """Run `updater` on the handle; its deltas become one delta-group."""
        state = self.replica.object(self.name, self.kind)
        deltas: list[Crdt] = []
        handle = handle_for(state, self.replica.writer, deltas.append)
        with state.updating(self.replica.writer, deltas.append, self.replica.client_ids):
            updater(handle)
        if deltas:
            group = deltas[0]
            for delta in deltas[1:]:
                group.merge(delta)
            if not group.is_bottom():
                self.replica.commit_group({self.name: group})
        return state.value


#: Frames a lossy link loses by default. (Protocol 2 also resends a lost hello or digest; a
#: network may pass any of them in `faulty`.)
DATA_FRAMES: tuple[type[Message], ...] = (Delta, Ack)


@dataclass
class Endpoint:
    """One end of a link: a replica, its session with the other end, and what it observed."""

    replica: Replica
    session: PeerSession
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class Frame:
    """A frame as it crossed (or failed to cross) a link."""

    sender: str
    receiver: str
    data: bytes
    delivered: bool
    round: int

    @property
    def message(self) -> Message:
        return decode_message(self.data)


@dataclass
class Link:
    left: Endpoint
    right: Endpoint

    def ends(self) -> tuple[tuple[Endpoint, Endpoint], tuple[Endpoint, Endpoint]]:
        return ((self.left, self.right), (self.right, self.left))


class PumpStalled(AssertionError):
    """The network was still moving frames after the round limit: a livelock."""


class Network:
    """Replicas connected by lossless (or seeded-lossy) in-memory links, driven in rounds."""

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        drop: float = 0.0,
        duplicate: float = 0.0,
        faulty: tuple[type[Message], ...] = DATA_FRAMES,
        retransmit_after: float = 5.0,
        max_frame_bytes: int = 16 * 1024 * 1024,
        ordered: bool = False,
        max_pushes_in_flight: int | None = None,
        ack_delay: float = 0.0,
        resume: bool = False,
    ) -> None:
        self.rng = rng if rng is not None else random.Random(0)
        self.drop = drop
        self.duplicate = duplicate
        self.faulty = faulty
        self.retransmit_after = retransmit_after
        self.max_frame_bytes = max_frame_bytes
        self.ordered = ordered
        self.max_pushes_in_flight = max_pushes_in_flight
        self.ack_delay = ack_delay
        self.resume = resume  # sessions read and keep their replicas' resume points
        self.now = 0.0
        self.links: list[Link] = []
        self.log: list[Frame] = []
        self.rounds = 0
        self._nonces = 0
        #: When set, decides the fate of each frame instead of the random faults:
        #: returns how many copies to deliver (0 drops it).
        self.fate: Callable[[str, str, Message], int] | None = None

    def nonce(self, owner: str) -> bytes:
        """A fresh, deterministic 16-byte nonce."""
        self._nonces += 1
        return hashlib.sha256(f"{owner}/{self._nonces}".encode()).digest()[:16]

    def session(self, replica: Replica, secret: bytes | None = None) -> PeerSession:
        return PeerSession(
            replica,
            nonce=self.nonce(replica.id),
            secret=secret,
            now=self.now,
            retransmit_after=self.retransmit_after,
            max_frame_bytes=self.max_frame_bytes,
            ordered=self.ordered,
            max_pushes_in_flight=self.max_pushes_in_flight,
            ack_delay=self.ack_delay,
            resume=replica.resume_points if self.resume else None,
        )

    def connect(
        self,
        left: Replica,
        right: Replica,
        *,
        secret: bytes | None = None,
        secrets: tuple[bytes | None, bytes | None] | None = None,
    ) -> Link:
        """Join two replicas with a fresh session at each end.

        Both ends use `secret`, unless `secrets` gives (left's, right's) separately.
        """
        left_secret, right_secret = secrets if secrets is not None else (secret, secret)
        link = Link(
            Endpoint(left, self.session(left, left_secret)),
            Endpoint(right, self.session(right, right_secret)),
        )
        self.links.append(link)
        return link

    def reconnect(self, link: Link) -> Link:
        """Close both sessions of `link` cleanly and replace it with fresh ones (a new
        connection between the same replicas, which starts with a digest exchange, or with
        claims when the network is made with `resume=True`)."""
        for end, _ in link.ends():
            end.session.close("reconnecting")
            end.session.data_to_send(self.now)  # the byes go nowhere: the link is gone
        fresh = Link(
            Endpoint(link.left.replica, self.session(link.left.replica)),
            Endpoint(link.right.replica, self.session(link.right.replica)),
        )
        self.links[self.links.index(link)] = fresh
        return fresh

    # -- moving frames ------------------------------------------------------------------------

    def deliver(self, to: Endpoint, data: bytes) -> list[Event]:
        """Feed one frame to `to` and carry out the driver's duties (`antientropy.duties`)."""
        events = deliver(
            to.session, to.session.receive_data(data, self.now), to.replica.apply_remote
        )
        to.events.extend(events)
        return events

    def _copies(self, sender: str, receiver: str, data: bytes) -> int:
        message = decode_message(data)
        if self.fate is not None:
            return self.fate(sender, receiver, message)
        if not isinstance(message, self.faulty):
            return 1
        if self.drop and self.rng.random() < self.drop:
            return 0
        if self.duplicate and self.rng.random() < self.duplicate:
            return 2
        return 1

    def step(self) -> int:
        """One synchronous round: collect every session's frames, then deliver them all.

        Returns the number of frames that were sent (delivered or not).
        """
        self.rounds += 1
        outgoing: list[tuple[Endpoint, Endpoint, bytes]] = []
        for link in self.links:
            for sender, receiver in link.ends():
                for data in sender.session.data_to_send(self.now):
                    outgoing.append((sender, receiver, data))
        for sender, receiver, data in outgoing:
            copies = self._copies(sender.replica.id, receiver.replica.id, data)
            self.log.append(
                Frame(sender.replica.id, receiver.replica.id, data, copies > 0, self.rounds)
            )
            for _ in range(copies):
                self.deliver(receiver, data)
        return len(outgoing)

    def run(self, max_rounds: int = 200) -> None:
        """Pump until a round moves no frame (at the current time)."""
        for _ in range(max_rounds):
            if self.step() == 0:
                return
        raise PumpStalled(f"frames still moving after {max_rounds} rounds")

    def deadline(self) -> float | None:
        """The earliest retransmission deadline of any session, if one is pending."""
        deadlines = [
            d
            for link in self.links
            for end, _ in link.ends()
            if (d := end.session.next_deadline()) is not None
        ]
        return min(deadlines) if deadlines else None

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def settle(self, max_deadlines: int = 100) -> None:
        """Pump, then jump to each pending retransmission deadline and pump again, until no
        session has anything in flight."""
        self.run()
        for _ in range(max_deadlines):
            deadline = self.deadline()
            if deadline is None:
                return
            self.now = max(self.now, deadline)
            self.run()
        raise PumpStalled(f"still retransmitting after {max_deadlines} deadlines")

    # -- inspection ---------------------------------------------------------------------------

    def frames(
        self, sender: str | None = None, receiver: str | None = None, *, delivered: bool = True
    ) -> list[Frame]:
        """Logged frames from `sender` to `receiver` (delivered ones by default)."""
        return [
            f
            for f in self.log
            if (sender is None or f.sender == sender)
            and (receiver is None or f.receiver == receiver)
            and (f.delivered or not delivered)
        ]

    def messages(self, sender: str, receiver: str, kind: type[Message]) -> list[Message]:
        return [m for f in self.frames(sender, receiver) if isinstance(m := f.message, kind)]

    def all_open(self) -> bool:
        return all(
            end.session.state is SessionState.OPEN for link in self.links for end, _ in link.ends()
        )
