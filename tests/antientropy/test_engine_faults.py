"""The Sans-I/O engine over links that lose, duplicate and reorder frames (DESIGN §4, §7).

Two `ReplicaState`s, two `PeerSession`s and a hand-run link: every frame is passed (or not) by
the test itself, so each case states exactly which frames are lost.
"""

from __future__ import annotations

from collections.abc import Callable

from antientropy import DeltasReceived, PeerSession, SessionState, collect_garbage
from antientropy.messages import Delta, decode_message, encode_message
from crdtstate.buffer import DeltaBuffer
from crdtstate.replica_state import ReplicaState
from crdtstate.types import AWSet, GCounter

Filter = Callable[[str, bytes], bool]  # (sender id, frame) -> deliver?


class Pair:
    def __init__(self, *, max_bytes: int = 1 << 20) -> None:
        self.now = 0.0
        self.a = ReplicaState("a", buffer=DeltaBuffer(max_bytes=max_bytes), incarnation=1)
        self.b = ReplicaState("b", buffer=DeltaBuffer(max_bytes=max_bytes), incarnation=2)
        self.sa = PeerSession(self.a, nonce=b"a" * 16, retransmit_after=1.0)
        self.sb = PeerSession(self.b, nonce=b"b" * 16, retransmit_after=1.0)
        self.delivered: list[tuple[str, bytes]] = []

    def exchange(self, keep: Filter = lambda s, f: True, rounds: int = 50) -> None:
        """Pass frames both ways until neither side has anything to say."""
        for _ in range(rounds):
            moved = False
            for sender, receiver, state in (
                (self.sa, self.sb, self.b),
                (self.sb, self.sa, self.a),
            ):
                for frame in sender.data_to_send(self.now):
                    moved = True
                    if keep(sender.source.id, frame):
                        self.delivered.append((sender.source.id, frame))
                        self._feed(receiver, state, frame)
            if not moved:
                return

    def _feed(self, session: PeerSession, state: ReplicaState, frame: bytes) -> None:
        for event in session.receive_data(frame, self.now):
            if isinstance(event, DeltasReceived):
                state.join_remote(event.deltas, session.peer or "?")
                session.acknowledge(event.upto)

    def settle(self, keep: Filter = lambda s, f: True) -> None:
        """Exchange, let the retransmission timers fire, repeat."""
        for _ in range(30):
            self.exchange(keep)
            deadlines = [d for s in (self.sa, self.sb) if (d := s.next_deadline()) is not None]
            if not deadlines:
                return
            self.now = max(self.now, min(deadlines))

    def bump(self, state: ReplicaState, n: int = 1) -> None:
        counter = state.object("n", GCounter)
        delta = counter.increment(n, replica=state.id)
        state.commit_local("n", counter, delta)


def kind_of(frame: bytes) -> str:
    return decode_message(frame).type


def drop_first(kind: str, sender: str) -> Filter:
    dropped: list[bool] = []

    def keep(s: str, frame: bytes) -> bool:
        if s == sender and kind_of(frame) == kind and not dropped:
            dropped.append(True)
            return False
        return True

    return keep


def test_a_lost_hello_is_resent_and_the_handshake_completes() -> None:
    pair = Pair()
    pair.bump(pair.a, 3)
    pair.settle(drop_first("hello", "a"))
    assert pair.sa.state is pair.sb.state is SessionState.OPEN
    assert pair.b.objects["n"].value == 3
    assert pair.sa.stats.retransmits + pair.sb.stats.retransmits >= 1


def test_a_lost_digest_answer_is_recovered_by_retransmission() -> None:
    pair = Pair()
    pair.bump(pair.a, 2)
    keep = drop_first("delta", "a")
    pair.settle(keep)
    assert pair.b.objects["n"].value == 2
    assert pair.sa.pulled and pair.sb.pulled


def test_a_lost_push_is_resent_after_the_timeout_and_acks_only_advance() -> None:
    pair = Pair()
    pair.settle()
    acks: list[int] = []
    pair.bump(pair.a, 1)
    pair.exchange(drop_first("delta", "a"))
    assert pair.b.objects.get("n") is None  # the push was lost
    assert pair.sa.acked < pair.sa.sent
    for _ in range(3):
        pair.bump(pair.a, 1)
        pair.settle()
        acks.append(pair.sa.acked)
    assert pair.b.objects["n"].value == 4
    assert acks == sorted(acks)
    assert pair.sa.stats.retransmits >= 1


def test_duplicated_and_reordered_deltas_are_acknowledged_only_when_contiguous() -> None:
    pair = Pair()
    pair.settle()
    held: list[bytes] = []
    for _ in range(3):
        pair.bump(pair.a, 1)
        held.extend(pair.sa.data_to_send(pair.now))
    deltas = [f for f in held if kind_of(f) == "delta"]
    assert len(deltas) == 3
    # The second and third arrive (twice), the first not yet: nothing can be acknowledged.
    for frame in [deltas[2], deltas[1], deltas[2], deltas[1]]:
        pair._feed(pair.sb, pair.b, frame)
    assert pair.sb.held.upto < decode_message(deltas[0]).upto
    pair._feed(pair.sb, pair.b, deltas[0])
    assert pair.sb.held.upto == decode_message(deltas[2]).upto
    pair.settle()
    assert pair.b.objects["n"].value == 3
    assert pair.sa.acked == pair.a.buffer.sequence


def test_back_propagation_never_sends_a_group_back_to_its_origin() -> None:
    pair = Pair()
    pair.settle()
    pair.delivered.clear()
    pair.bump(pair.a, 5)
    pair.settle()
    from_b = [decode_message(f) for s, f in pair.delivered if s == "b"]
    assert all(not m.entries for m in from_b if isinstance(m, Delta))
    assert pair.b.buffer.sequence == 1  # the novel part was buffered once, origin a


def test_remove_redundant_buffers_nothing_for_a_duplicate() -> None:
    state = ReplicaState("x")
    delta = AWSet()
    delta.add("k", replica="y")
    assert state.join_remote({"s": delta.copy()}, "y")[0] == 1
    assert state.join_remote({"s": delta.copy()}, "z")[0] is None
    assert len(state.buffer) == 1


def test_an_invalid_frame_ends_the_session_and_changes_nothing() -> None:
    pair = Pair()
    pair.bump(pair.a, 1)
    pair.settle()
    before = pair.b.digest()
    bad = encode_message(Delta(upto=1, entries=[("n", "gcounter", {"a": -5})], since=0))
    events = pair.sb.receive_data(bad, pair.now)
    assert pair.sb.state is SessionState.CLOSED
    assert events and "malformed" in events[0].reason  # type: ignore[union-attr]
    assert pair.b.digest() == before


def test_a_peer_behind_the_byte_bound_is_resynchronised_by_digests() -> None:
    pair = Pair(max_bytes=40)
    pair.settle()
    unreachable: Filter = lambda s, f: False  # noqa: E731
    for _ in range(30):
        pair.bump(pair.a, 1)
        pair.exchange(unreachable)
        assert pair.a.buffer.bytes <= 40
        collect_garbage(pair.a.buffer, [pair.sa])
    assert pair.a.buffer.floor > pair.sa.acked  # b's groups were dropped for the bound
    pair.settle()
    assert pair.b.objects["n"].value == 30
    assert pair.sa.stats.resyncs >= 1
