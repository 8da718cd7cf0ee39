"""A deterministic discrete-event network that drives `PeerSession`s directly, with no event
loop: a priority queue of deliveries and timers keyed by simulated time, one seeded `Random`.

Links are connections that last while both ends are up: frames on them are delayed, lost,
duplicated and reordered by their `LinkModel`, and a partition cuts them without closing them
(the sessions' retransmissions carry them across the heal). A crash closes every connection of
the replica; frames still in flight for a closed connection are discarded on arrival, as a
new TCP connection never sees an old one's segments. A restart opens new connections, so the
peers resynchronise by digests; `reconnect` replaces a connection between two running replicas,
which remember each other and resume where they were (`resume=False`: digests every time).
The same seed replays the same run, event for event.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from antientropy import PeerSession, SessionClosed, collect_garbage
from antientropy.duties import deliver
from crdtstate.buffer import DEFAULT_MAX_BYTES, DEFAULT_MAX_GROUPS
from crdtstate.types import Crdt

from .links import RELIABLE, LinkModel
from .metrics import NetworkCounters, Sample, Traffic
from .node import SimReplica

Mutation = Callable[[Crdt, str], Crdt]  # mutate the state in place as replica, return delta


@dataclass(slots=True)
class Link:
    a: str
    b: str
    model: LinkModel
    cut: bool = False
    epoch: int = 0  # bumped whenever the connection is replaced
    sessions: dict[str, PeerSession] = field(default_factory=dict)  # by the end that owns it
    last_arrival: dict[str, float] = field(default_factory=dict)  # by receiver, for fifo

    def other(self, end: str) -> str:
        return self.b if end == self.a else self.a


class Network:
    """Replicas, links and a clock. Mutate it with `update`, `partition`, `heal`, `crash`,
    `restart`; advance it with `run_until` / `run_until_quiet`.

    `sync_interval=None` pushes eagerly (after every change); a number makes every replica
    flush its sessions only on its own periodic tick (the Enes et al. benchmark setting).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        retransmit_after: float = 0.5,
        max_retransmit_after: float | None = None,
        sync_interval: float | None = None,
        buffer_bytes: int = DEFAULT_MAX_BYTES,
        buffer_groups: int | None = DEFAULT_MAX_GROUPS,
        back_propagation: bool = True,
        remove_redundant: bool = True,
        resume: bool = True,
    ) -> None:
        self.rng = random.Random(seed)
        self.now = 0.0
        self.replicas: dict[str, SimReplica] = {}
        self.links: dict[tuple[str, str], Link] = {}
        self.counters = NetworkCounters()
        self.samples: list[Sample] = []
        self.retired: list[PeerSession] = []  # sessions of closed connections, for traffic
        self._retransmit_after = retransmit_after
        self._max_retransmit_after = max_retransmit_after
        self._sync_interval = sync_interval
        self._buffer_bytes = buffer_bytes
        self._buffer_groups = buffer_groups
        self._bp = back_propagation
        self._rr = remove_redundant
        self._resume = resume
        self._queue: list[tuple[float, int, str, Any]] = []
        self._order = itertools.count()
        self._in_flight = 0
        self._timer_at: dict[int, float] = {}  # id(session) -> scheduled timer

    # -- building ---------------------------------------------------------------------------

    def add_replica(self, replica_id: str) -> SimReplica:
        node = SimReplica.fresh(
            replica_id,
            self.rng,
            max_bytes=self._buffer_bytes,
            max_groups=self._buffer_groups,
            relay_redundant=not self._rr,
        )
        self.replicas[replica_id] = node
        if self._sync_interval is not None:
            self._push(self.rng.uniform(0, self._sync_interval), "tick", replica_id)
        return node

    def connect(self, a: str, b: str, model: LinkModel = RELIABLE) -> Link:
        link = self.links[_key(a, b)] = Link(a, b, model)
        self._open(link)
        return link

    def link(self, a: str, b: str) -> Link:
        return self.links[_key(a, b)]

    def links_of(self, replica_id: str) -> list[Link]:
        return [link for link in self.links.values() if replica_id in (link.a, link.b)]

    # -- what a schedule does -----------------------------------------------------------------

    def update(self, replica_id: str, name: str, kind: type[Crdt], mutate: Mutation) -> Crdt:
        """A local update on an up replica; returns its delta (durable once this returns)."""
        node = self.replicas[replica_id]
        if not node.up:
            raise RuntimeError(f"replica {replica_id} is down")
        state = node.state.object(name, kind)
        delta = mutate(state, replica_id)
        if not delta.is_bottom():
            node.state.commit_local(name, state, delta)
            node.note_growth(self.now)
            self._replica_grew(node)
        return delta

    def update_group(
        self, replica_id: str, changes: Iterable[tuple[str, type[Crdt], Mutation]]
    ) -> dict[str, Crdt]:
        """One update touching several objects: their deltas form one delta-group."""
        node = self.replicas[replica_id]
        if not node.up:
            raise RuntimeError(f"replica {replica_id} is down")
        deltas: dict[str, Crdt] = {}
        for name, kind, mutate in changes:
            delta = mutate(node.state.object(name, kind), replica_id)
            if not delta.is_bottom():
                deltas[name] = delta
        if deltas:
            node.state.commit_group(deltas)
            node.note_growth(self.now)
            self._replica_grew(node)
        return deltas

    def partition(self, side: Iterable[str]) -> None:
        """Cut every link between `side` and the rest."""
        inside = set(side)
        for link in self.links.values():
            if (link.a in inside) != (link.b in inside):
                link.cut = True

    def heal(self) -> None:
        for link in self.links.values():
            link.cut = False

    def set_model(self, model: LinkModel) -> None:
        for link in self.links.values():
            link.model = model

    def reconnect(self, a: str, b: str) -> None:
        """Drop the connection between `a` and `b` and open a new one (when both are up)."""
        link = self.link(a, b)
        self._close(link)
        self._reopen(link)

    def crash(self, replica_id: str) -> None:
        node = self.replicas[replica_id]
        for link in self.links_of(replica_id):
            self._close(link)
        node.crash()

    def restart(self, replica_id: str) -> None:
        node = self.replicas[replica_id]
        node.restart(self.rng)
        for link in self.links_of(replica_id):
            if self.replicas[link.other(replica_id)].up:
                self._open(link)

    def at(self, time: float, action: Callable[[], None]) -> None:
        """Run `action` at simulated `time` (a scheduled partition, heal, crash...)."""
        self._push(time, "call", action)

    def sample_every(self, period: float, until: float) -> None:
        for i in range(int(until / period) + 1):
            self._push(i * period, "sample", None)

    # -- running ----------------------------------------------------------------------------

    def run_until(self, time: float) -> None:
        while self._queue and self._queue[0][0] <= time:
            self._step()
        self.now = max(self.now, time)

    def run_until_quiet(self, limit: float = float("inf"), max_events: int = 10**7) -> bool:
        """Run until nothing is in flight and no session waits for anything; False if the
        time or event limit came first (a partition still holds, or a bug)."""
        for _ in range(max_events):
            if self.quiet():
                return True
            if not self._queue or self._queue[0][0] > limit:
                return False
            self._step()
        return False

    def quiet(self) -> bool:
        if self._in_flight:
            return False
        for node in self.replicas.values():
            for session in node.sessions.values():
                if session.wants_to_send() or session.next_deadline() is not None:
                    return False
        return True

    def converged(self) -> bool:
        return len({node.state.digest() for node in self.replicas.values()}) == 1

    def traffic(self) -> Traffic:
        live = [s for node in self.replicas.values() for s in node.sessions.values()]
        return Traffic.of([*self.retired, *live])

    # -- the event loop -----------------------------------------------------------------------

    def _push(self, time: float, kind: str, payload: Any) -> None:
        heapq.heappush(self._queue, (time, next(self._order), kind, payload))

    def _step(self) -> None:
        time, _, kind, payload = heapq.heappop(self._queue)
        self.now = max(self.now, time)
        if kind == "deliver":
            self._in_flight -= 1
            self._deliver(*payload)
        elif kind == "timer":
            self._on_timer(*payload)
        elif kind == "tick":
            self._on_tick(payload)
        elif kind == "call":
            payload()
        elif kind == "sample":
            self._sample()

    def _open(self, link: Link) -> None:
        link.epoch += 1
        link.last_arrival.clear()
        for end in (link.a, link.b):
            node = self.replicas[end]
            session = PeerSession(
                node.state,
                nonce=self.rng.randbytes(16),
                now=self.now,
                retransmit_after=self._retransmit_after,
                max_retransmit_after=self._max_retransmit_after,
                back_propagation=self._bp,
                resume=node.state.resume_points if self._resume else None,
            )
            link.sessions[end] = node.sessions[link.other(end)] = session
        for end in (link.a, link.b):
            self._flush(link, end, force=True)

    def _close(self, link: Link) -> None:
        for end, session in link.sessions.items():
            self.retired.append(session)
            node = self.replicas[end]
            if node.sessions.get(link.other(end)) is session:
                del node.sessions[link.other(end)]
                self._collect(node)
        link.sessions.clear()
        link.epoch += 1

    def _deliver(self, link: Link, epoch: int, dst: str, frame: bytes) -> None:
        session = link.sessions.get(dst)
        if link.epoch != epoch or session is None:
            self.counters.stale += 1
            return
        self.counters.delivered += 1
        node = self.replicas[dst]
        sequence = node.state.sequence
        events = deliver(session, session.receive_data(frame, self.now), node.join_remote)
        grew = node.state.sequence != sequence
        if grew:
            node.note_growth(self.now)
        for event in events:
            if isinstance(event, SessionClosed):
                self._on_closed(link, event)
                return
        self._collect(node)
        if grew:
            self._replica_grew(node)
        else:
            self._flush(link, dst)

    def _collect(self, node: SimReplica) -> None:
        remembered = node.state.resume_points if self._resume else None
        collect_garbage(node.state.buffer, node.sessions.values(), remembered)

    def _on_closed(self, link: Link, event: SessionClosed) -> None:
        """A session ended (a protocol error: it never should here): reconnect later."""
        self.counters.session_errors.append(event.reason)
        for end in (link.a, link.b):
            if end in link.sessions:
                self._flush(link, end, force=True)  # let the bye out
        self._close(link)
        self.at(self.now + self._retransmit_after, lambda: self._reopen(link))

    def _reopen(self, link: Link) -> None:
        if not link.sessions and self.replicas[link.a].up and self.replicas[link.b].up:
            self._open(link)

    def _replica_grew(self, node: SimReplica) -> None:
        for peer in list(node.sessions):
            self._flush(self.link(node.id, peer), node.id)

    def _on_tick(self, replica_id: str) -> None:
        assert self._sync_interval is not None
        node = self.replicas[replica_id]
        for peer in list(node.sessions):
            self._flush(self.link(replica_id, peer), replica_id, force=True)
        self._push(self.now + self._sync_interval, "tick", replica_id)

    def _on_timer(self, link: Link, end: str, session: PeerSession, at: float) -> None:
        if link.sessions.get(end) is not session or self._timer_at.get(id(session)) != at:
            return
        del self._timer_at[id(session)]
        self._flush(link, end, force=True)

    def _flush(self, link: Link, end: str, *, force: bool = False) -> None:
        """Send what the session of `end` has to say (on ticks only, when syncing periodically,
        unless `force`); then make sure a timer wakes it at its next deadline."""
        session = link.sessions.get(end)
        if session is None:
            return
        if force or self._sync_interval is None:
            for frame in session.data_to_send(self.now):
                self._transmit(link, end, frame)
        deadline = session.next_deadline()
        if deadline is not None:
            scheduled = self._timer_at.get(id(session))
            if scheduled is None or deadline < scheduled:
                self._timer_at[id(session)] = deadline
                self._push(deadline, "timer", (link, end, session, deadline))

    def _transmit(self, link: Link, src: str, frame: bytes) -> None:
        dst = link.other(src)
        if link.cut or not self.replicas[dst].up:
            self.counters.lost += 1
            return
        delays = link.model.delays(self.rng)
        if not delays:
            self.counters.lost += 1
        self.counters.duplicated += max(0, len(delays) - 1)
        for delay in delays:
            arrival = self.now + delay
            if link.model.fifo:
                arrival = max(arrival, link.last_arrival.get(dst, 0.0))
                link.last_arrival[dst] = arrival
            self._in_flight += 1
            self._push(arrival, "deliver", (link, link.epoch, dst, frame))

    def _sample(self) -> None:
        traffic = self.traffic()
        self.samples.append(
            Sample(
                self.now,
                {rid: node.state.buffer.bytes for rid, node in self.replicas.items()},
                traffic.bytes,
                traffic.payload_bytes,
            )
        )


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)
