"""The anti-entropy session (DESIGN §4, §7) driven with no network and no event loop:
`session_pump.Network` moves frames between `PeerSession`s of synchronous replicas in rounds
and does the driver's duties (apply, then ack).

Read as a specification: the handshake and its authentication, the errors that end a session,
digest-driven sync, eager pushing with acknowledgements, the BP and RR optimisations,
retransmission of lost pushes, the digest fallback when the buffer was collected, and
convergence of a chain of replicas under random updates and frame loss.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antientropy import (
    PROTOCOL_VERSION,
    Ack,
    Auth,
    Bye,
    CloseKind,
    Delta,
    DeltasReceived,
    Digest,
    Hello,
    PeerReady,
    PeerSession,
    SessionClosed,
    SessionPhase,
    SessionState,
    collect_garbage,
)
from antientropy.messages import decode_message, encode_message
from crdtstate import AWSet, Crdt, GCounter, ORMap, PNCounter, codec
from crdtstate.replica_ids import writer_name

from .session_pump import DATA_FRAMES, Endpoint, Link, Network, Replica

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: The chain simulations get the most examples the suite's budget allows.
CHAIN = settings(PROPERTY, max_examples=100)
SECRET = b"s" * 32

# -- helpers ------------------------------------------------------------------------------------


def add(replica: Replica, *elements: Any, name: str = "set") -> None:
    """One update of `replica` adding `elements` to the AWSet `name` (one delta-group)."""

    def updater(s: Any) -> None:
        for element in elements:
            s.add(element)

    replica.container(name, AWSet).update(updater)


def discard(replica: Replica, *elements: Any, name: str = "set") -> None:
    def updater(s: Any) -> None:
        for element in elements:
            s.discard(element)

    replica.container(name, AWSet).update(updater)


def count(replica: Replica, n: int, name: str = "counter") -> None:
    replica.container(name, PNCounter).update(lambda c: c.increment(n))


def value(replica: Replica, name: str) -> Any:
    state = replica.snapshot(name)
    return None if state is None else state.value


def sent_deltas(net: Network, sender: str, receiver: str) -> list[Delta]:
    """The Delta messages `sender` sent `receiver` (delivered or not)."""
    return [
        m
        for f in net.frames(sender, receiver, delivered=False)
        if isinstance(m := f.message, Delta)
    ]


def entry_states(delta: Delta) -> dict[str, Crdt]:
    return {
        name: codec.from_wire([codec.FORMAT_VERSION, kind, payload])
        for name, kind, payload in delta.entries
    }


def replicas_in(state: Crdt) -> set[str]:
    """The replicas whose updates a delta carries: dot owners, or counter entries."""
    if isinstance(state, AWSet):
        return {d.replica for d in state.context.dots()} | {d.replica for d in state.store.owner}
    if isinstance(state, PNCounter):
        return set(state.p.counts) | set(state.n.counts)
    assert isinstance(state, GCounter)
    return set(state.counts)


def closes(end: Endpoint) -> list[SessionClosed]:
    return [e for e in end.events if isinstance(e, SessionClosed)]


def readies(end: Endpoint) -> list[PeerReady]:
    return [e for e in end.events if isinstance(e, PeerReady)]


def hello_from(
    replica: str, *, protocol: int = PROTOCOL_VERSION, nonce: bytes = b"p" * 16
) -> bytes:
    return encode_message(Hello(protocol=protocol, replica=replica, incarnation=1, nonce=nonce))


def ends_with_bye(frames: list[bytes]) -> Bye:
    assert frames, "a closing session sends a bye"
    last = decode_message(frames[-1])
    assert isinstance(last, Bye)
    return last


def opened(replica: Replica, peer: str = "peer") -> PeerSession:
    """A session of `replica` opened by a (forged, secret-less) peer hello; outbox flushed."""
    session = PeerSession(replica, nonce=b"n" * 16)
    assert session.receive_data(hello_from(peer), 0.0) == [PeerReady(peer, 1)]
    session.data_to_send(0.0)
    return session


def connected(*replicas: Replica, net: Network | None = None) -> tuple[Network, list[Link]]:
    """A chain replicas[0] <-> replicas[1] <-> ..., handshaken and synced."""
    net = net if net is not None else Network()
    links = [net.connect(x, y) for x, y in itertools.pairwise(replicas)]
    net.run()
    assert net.all_open()
    return net, links


# -- handshake ----------------------------------------------------------------------------------


def test_handshake_opens_both_sides_with_the_right_ids() -> None:
    """Each side reports PeerReady(peer id, peer incarnation) once and is OPEN."""
    a, b = Replica("a"), Replica("b")
    net = Network()
    link = net.connect(a, b)
    assert link.left.session.state is SessionState.AWAIT_HELLO
    net.run()
    assert link.left.session.state is SessionState.OPEN
    assert link.right.session.state is SessionState.OPEN
    assert readies(link.left) == [PeerReady("b", b.incarnation)]
    assert readies(link.right) == [PeerReady("a", a.incarnation)]
    assert (link.left.session.peer, link.right.session.peer) == ("b", "a")
    first = decode_message(net.frames("a", "b")[0].data)
    assert isinstance(first, Hello)
    assert (first.replica, first.incarnation) == ("a", a.incarnation)
    assert first.protocol == PROTOCOL_VERSION == 5
    assert not closes(link.left) and not closes(link.right)


def test_the_phases_are_handshake_then_digests_then_pushing_then_closed() -> None:
    """Each round moves both sides one phase on: hellos, then digests answered; a close ends it."""
    net = Network()
    link = net.connect(Replica("a"), Replica("b"))
    ends = (link.left.session, link.right.session)

    def phases() -> list[SessionPhase]:
        return [session.phase for session in ends]

    assert phases() == [SessionPhase.HANDSHAKE] * 2
    net.step()  # hellos cross: open, each digest out
    assert phases() == [SessionPhase.DIGESTS] * 2
    net.step()  # digests cross and are answered: pushing from then on
    assert phases() == [SessionPhase.PUSHING] * 2
    link.left.session.close("done")
    assert phases() == [SessionPhase.CLOSED, SessionPhase.PUSHING]


@pytest.mark.parametrize("ordered", [False, True], ids=["lossy", "ordered"])
def test_equal_secrets_authenticate_without_the_secret_crossing_the_wire(
    ordered: bool,
) -> None:
    """With the same secret both sides exchange proofs and open; the secret is never sent."""
    a, b = Replica("a"), Replica("b")
    net = Network(ordered=ordered)
    link = net.connect(a, b, secret=SECRET)
    net.run()
    assert net.all_open()
    assert readies(link.left) == [PeerReady("b", b.incarnation)]
    assert readies(link.right) == [PeerReady("a", a.incarnation)]
    assert len(net.messages("a", "b", Auth)) == 1
    assert len(net.messages("b", "a", Auth)) == 1
    assert not any(SECRET in f.data for f in net.log)


@pytest.mark.parametrize("ordered", [False, True], ids=["lossy", "ordered"])
def test_different_secrets_close_both_sides_with_auth(ordered: bool) -> None:
    """Different secrets: no side opens; each side that checks the other's proof closes AUTH."""
    a, b = Replica("a"), Replica("b")
    net = Network(ordered=ordered)
    link = net.connect(a, b, secrets=(b"x" * 32, b"y" * 32))
    net.run()
    for end in link.ends():
        session = end[0].session
        assert session.state is SessionState.CLOSED
        assert readies(end[0]) == []
        assert [c.kind for c in closes(end[0])] == [CloseKind.AUTH]
    assert net.messages("a", "b", Bye) and net.messages("b", "a", Bye)
    assert net.messages("a", "b", Digest) == [] == net.messages("b", "a", Digest)


def test_the_side_verifying_a_bad_proof_closes_auth_and_its_peer_hears_bye() -> None:
    """Delivered one way at a time: b checks a's bad proof (AUTH); a then gets b's bye (PEER)."""
    a, b = Replica("a"), Replica("b")
    sa = PeerSession(a, nonce=b"a" * 16, secret=b"x" * 32)
    sb = PeerSession(b, nonce=b"b" * 16, secret=b"y" * 32)
    for frame in sb.data_to_send(0.0):
        assert sa.receive_data(frame, 0.0) == []  # a answers b's hello with its proof
    events: list[Any] = []
    for frame in sa.data_to_send(0.0):
        events += sb.receive_data(frame, 0.0)
    assert [type(e) for e in events] == [SessionClosed]
    assert events[0].kind is CloseKind.AUTH
    assert sb.state is SessionState.CLOSED
    bye = ends_with_bye(sb.data_to_send(0.0))
    assert sa.receive_data(encode_message(bye), 0.0) == [SessionClosed(bye.reason, CloseKind.PEER)]
    assert sa.state is SessionState.CLOSED


@pytest.mark.parametrize("ordered", [False, True], ids=["lossy", "ordered"])
def test_a_peer_without_the_secret_cannot_open_a_session_that_requires_it(
    ordered: bool,
) -> None:
    """A secret-less peer skips auth; the side requiring it never opens nor reads its frames.

    On an ordered transport the peer's digest arriving instead of its proof is an AUTH failure.
    On a lossy one it may be a reordering, so it is ignored: that side closes when the
    secret-less peer, refusing the unexpected proof, says bye.
    """
    a, b = Replica("a"), Replica("b")
    add(b, "b's")
    net = Network(ordered=ordered)
    link = net.connect(a, b, secrets=(SECRET, None))
    net.run()
    assert readies(link.left) == []
    assert link.left.session.state is SessionState.CLOSED
    if ordered:
        assert [c.kind for c in closes(link.left)] == [CloseKind.AUTH]
    else:
        assert [c.kind for c in closes(link.left)] == [CloseKind.PEER]
        assert link.left.session.stats.ignored >= 1  # b's digest, read before any proof
    assert link.right.session.state is SessionState.CLOSED
    assert [c.kind for c in closes(link.right)] == [CloseKind.PROTOCOL]
    assert "auth" in closes(link.right)[0].reason
    assert net.messages("a", "b", Delta) == [] == net.messages("b", "a", Delta)
    assert net.messages("a", "b", Digest) == []
    assert value(a, "set") is None and a.buffer.sequence == 0


def test_a_replayed_handshake_fails_auth() -> None:
    """Hello and Auth recorded from a's session with b do not open a new session of b's."""
    a, b = Replica("a"), Replica("b")
    net = Network()
    net.connect(a, b, secret=SECRET)
    net.run()
    assert net.all_open()
    recorded = [f.data for f in net.frames("a", "b") if isinstance(f.message, Hello | Auth)]
    assert len(recorded) == 2

    fresh = PeerSession(b, nonce=net.nonce("b"), secret=SECRET)
    fresh.data_to_send(0.0)
    events = [e for frame in recorded for e in fresh.receive_data(frame, 0.0)]
    assert not any(isinstance(e, PeerReady) for e in events)
    assert [e.kind for e in events if isinstance(e, SessionClosed)] == [CloseKind.AUTH]
    assert fresh.state is SessionState.CLOSED
    ends_with_bye(fresh.data_to_send(0.0))


def test_a_reflected_hello_is_refused() -> None:
    """A peer echoing our own nonce (a reflection attack) is refused, even without a secret."""
    session = PeerSession(Replica("a"), nonce=b"n" * 16)
    (event,) = session.receive_data(hello_from("b", nonce=b"n" * 16), 0.0)
    assert isinstance(event, SessionClosed) and event.kind is CloseKind.AUTH
    assert session.state is SessionState.CLOSED


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4, 6, -1, 2**40])  # 4: the previous protocol
def test_a_protocol_version_mismatch_closes_with_a_reason(version: int) -> None:
    """A hello of another protocol version ends the session with a bye naming the version."""
    a = Replica("a")
    session = PeerSession(a, nonce=b"n" * 16)
    (event,) = session.receive_data(hello_from("b", protocol=version), 0.0)
    assert isinstance(event, SessionClosed) and event.kind is CloseKind.PROTOCOL
    assert str(version) in event.reason and "version" in event.reason
    assert session.state is SessionState.CLOSED and session.close_reason == event.reason
    assert ends_with_bye(session.data_to_send(0.0)).reason == event.reason
    assert session.peer is None


def test_a_protocol_2_hello_is_refused_by_its_version_not_its_fields() -> None:
    """Protocol 2 hellos listed kinds; the reason names the version a user must upgrade."""
    a = Replica("a")
    session = PeerSession(a, nonce=b"n" * 16)
    old = {"t": "hello", "protocol": 2, "replica": "b", "incarnation": 1, "kinds": ["awset"]}
    (event,) = session.receive_data(codec.pack(old | {"nonce": b"p" * 16}), 0.0)
    assert isinstance(event, SessionClosed) and event.kind is CloseKind.PROTOCOL
    assert event.reason == f"unsupported protocol version 2 (this is {PROTOCOL_VERSION})"


def test_a_peer_claiming_our_own_replica_id_is_refused() -> None:
    """Two replicas configured with the same id refuse each other instead of merging."""
    net = Network()
    link = net.connect(Replica("a"), Replica("a"))
    net.run()
    for end, _ in link.ends():
        assert end.session.state is SessionState.CLOSED
        assert readies(end) == []
        (closed,) = closes(end)
        assert closed.kind is CloseKind.PROTOCOL and "'a'" in closed.reason


EARLY_FRAMES = {
    "auth": Auth(proof=b"p" * 32),
    "digest": Digest(objects={}),
    "delta": Delta(upto=1, entries=[("x", "gcounter", {"z": 1})]),
    "ack": Ack(upto=0),
}


@pytest.mark.parametrize("name", sorted(EARLY_FRAMES))
def test_a_frame_before_hello_closes_an_ordered_session_with_a_bye(name: str) -> None:
    """On an ordered transport (a websocket), anything but hello (or bye) first is a protocol
    error; nothing reaches the replica."""
    a = Replica("a")
    session = PeerSession(a, nonce=b"n" * 16, ordered=True)
    (event,) = session.receive_data(encode_message(EARLY_FRAMES[name]), 0.0)
    assert isinstance(event, SessionClosed) and event.kind is CloseKind.PROTOCOL
    assert name in event.reason
    assert session.state is SessionState.CLOSED
    assert ends_with_bye(session.data_to_send(0.0)).reason == event.reason
    assert a.names() == [] and a.buffer.sequence == 0
    # A closed session ignores whatever else arrives and sends nothing more.
    assert session.receive_data(hello_from("b"), 0.0) == []
    assert session.data_to_send(1.0) == [] and not session.wants_to_send()


@pytest.mark.parametrize("name", sorted(EARLY_FRAMES))
def test_a_frame_before_hello_on_a_lossy_link_is_ignored(name: str) -> None:
    """On a lossy link (the default) a frame ahead of the peer's hello is a reordering: it is
    counted as ignored, nothing is applied, no bye is sent, and the handshake still opens."""
    a = Replica("a")
    session = PeerSession(a, nonce=b"n" * 16)
    assert [type(decode_message(f)) for f in session.data_to_send(0.0)] == [Hello]
    assert session.receive_data(encode_message(EARLY_FRAMES[name]), 0.0) == []
    assert session.state is SessionState.AWAIT_HELLO and session.close_reason is None
    assert session.stats.ignored == 1
    assert session.data_to_send(0.0) == []  # no bye, nothing else either
    assert session.acked == 0 and session.peer is None
    assert session.receive_data(hello_from("b"), 0.0) == [PeerReady("b", 1)]
    assert session.state is SessionState.OPEN
    assert a.names() == [] and a.buffer.sequence == 0


@pytest.mark.parametrize("ordered", [False, True], ids=["lossy", "ordered"])
@pytest.mark.parametrize("name", sorted(set(EARLY_FRAMES) - {"auth"}))
def test_a_frame_instead_of_the_proof(name: str, ordered: bool) -> None:
    """With a secret, a frame other than the peer's proof after its hello fails AUTH on an
    ordered transport, and is ignored (never read nor applied) on a lossy link."""
    a = Replica("a")
    session = PeerSession(a, nonce=b"n" * 16, secret=SECRET, ordered=ordered)
    session.data_to_send(0.0)
    assert session.receive_data(hello_from("b"), 0.0) == []
    assert session.state is SessionState.AWAIT_AUTH
    events = session.receive_data(encode_message(EARLY_FRAMES[name]), 0.0)
    if ordered:
        assert [type(e) for e in events] == [SessionClosed]
        assert events[0].kind is CloseKind.AUTH and name in events[0].reason
        assert ends_with_bye(session.data_to_send(0.0)).reason == events[0].reason
    else:
        assert events == []
        assert session.state is SessionState.AWAIT_AUTH and session.stats.ignored == 1
        assert [type(decode_message(f)) for f in session.data_to_send(0.0)] == [Auth]
    assert a.names() == [] and a.buffer.sequence == 0 and session.acked == 0


@pytest.mark.parametrize(
    "message",
    [
        Hello(protocol=PROTOCOL_VERSION, replica="b", incarnation=1, nonce=b"q" * 16),
        Auth(proof=b"p" * 32),
    ],
)
def test_an_unexpected_message_once_open_closes_the_session_with_a_bye(
    message: Hello | Auth,
) -> None:
    """A second hello, or an auth when none was asked for, ends an open session."""
    session = opened(Replica("a"), "b")
    (event,) = session.receive_data(encode_message(message), 1.0)
    assert isinstance(event, SessionClosed) and event.kind is CloseKind.PROTOCOL
    assert message.type in event.reason
    assert ends_with_bye(session.data_to_send(1.0)).reason == event.reason


def test_a_bye_ends_the_session_as_closed_by_the_peer() -> None:
    """A peer's bye closes the session with its reason, kind PEER, and no bye in reply."""
    session = opened(Replica("a"), "b")
    assert session.receive_data(encode_message(Bye(reason="maintenance")), 1.0) == [
        SessionClosed("maintenance", CloseKind.PEER)
    ]
    assert session.state is SessionState.CLOSED
    assert session.data_to_send(1.0) == []


def test_close_sends_a_bye_with_the_reason() -> None:
    """`close(reason)` queues a bye, after which the session is closed and silent."""
    session = opened(Replica("a"), "b")
    session.close("shutting down")
    assert session.state is SessionState.CLOSED
    assert ends_with_bye(session.data_to_send(1.0)) == Bye(reason="shutting down")
    assert session.data_to_send(2.0) == []


@pytest.mark.parametrize(
    "frame",
    [
        b"\xc1garbage",
        "a text frame",
        encode_message(Delta(upto=1, entries=[("x", "no-such-kind", [])])),
        encode_message(Delta(upto=1, entries=[("x", "awset", [[[1, [["z", 9]]]], [{}, []]])])),
        encode_message(Digest(objects={"x": ("no-such-kind", [])})),
        encode_message(Digest(objects={"x": ("pncounter", {"z": 1})})),
    ],
    ids=["bad-msgpack", "text", "unknown-kind", "dot-outside-context", "digest-kind", "digest"],
)
def test_a_malformed_frame_closes_an_open_session_and_leaves_the_replica(frame: Any) -> None:
    """Malformed frames and invalid CRDT payloads end the session with a bye, state untouched."""
    a = Replica("a")
    add(a, 1)
    before = (a.digest(), a.buffer.sequence)
    session = opened(a, "b")
    events = session.receive_data(frame, 1.0)
    assert [type(e) for e in events] == [SessionClosed]
    assert events[0].kind is CloseKind.PROTOCOL
    ends_with_bye(session.data_to_send(1.0))
    assert (a.digest(), a.buffer.sequence) == before


LONG = "n" * 1024  # the longest object name the protocol allows


@pytest.mark.parametrize(
    "frame",
    [
        encode_message(Delta(upto=1, entries=[(LONG, "awset", 5)])),
        encode_message(
            Delta(upto=1, entries=[(LONG, "gcounter", {"z": 1}), (LONG, "gcounter", {"z": 2})])
        ),
        codec.pack({"type": "digest", "objects": {"n" * 5000: ["awset", [{}, []]]}}),
    ],
    ids=["bad-payload-long-name", "repeated-long-name", "overlong-name"],
)
def test_a_long_error_reason_still_closes_with_a_bye(frame: bytes) -> None:
    """receive_data never raises: an error whose reason quotes a long name still ends the
    session with a bye (whose reason fits the 1024-character limit)."""
    session = opened(Replica("a"), "b")
    events = session.receive_data(frame, 1.0)
    assert [type(e) for e in events] == [SessionClosed]
    assert session.state is SessionState.CLOSED
    bye = ends_with_bye(session.data_to_send(1.0))
    assert len(bye.reason) <= 1000


def test_a_long_close_reason_is_cut_to_fit_the_bye() -> None:
    """`close` with a reason longer than a bye allows sends its first 1000 characters."""
    session = opened(Replica("a"), "b")
    session.close("x" * 5000)
    bye = ends_with_bye(session.data_to_send(1.0))
    assert bye.reason == "x" * 1000 == session.close_reason


@PROPERTY
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=5))
def test_garbage_after_open_never_raises(frames: list[bytes]) -> None:
    """Any bytes fed to an open session give events, never an exception; a close sends a bye."""
    session = opened(Replica("a"), "b")
    for frame in frames:
        events = session.receive_data(frame, 1.0)
        if any(isinstance(e, SessionClosed) for e in events):
            assert session.state is SessionState.CLOSED
            ends_with_bye(session.data_to_send(1.0))
            return


# -- digest exchange ----------------------------------------------------------------------------


def test_digest_exchange_makes_concurrently_updated_replicas_converge() -> None:
    """Replicas updated apart converge on connect: the union of the sets, the sum of the
    counters, and the objects only one side had."""
    a, b = Replica("a"), Replica("b")
    add(a, "shared", "a-only")
    add(b, "b-only")
    count(a, 5)
    count(b, -2)
    a.container("grow", GCounter).update(lambda c: c.increment(3))
    add(b, "x", name="b-set")
    net, _ = connected(a, b)
    assert a.digest() == b.digest()
    assert value(b, "set") == {"shared", "a-only", "b-only"}
    assert value(a, "counter") == value(b, "counter") == 3
    assert value(b, "grow") == 3
    assert value(a, "b-set") == {"x"}
    # Digest answers only: nothing was pushed on top of them.
    assert [len(sent_deltas(net, s, r)) for s, r in [("a", "b"), ("b", "a")]] == [1, 1]


def test_digest_exchange_respects_concurrent_removals() -> None:
    """Removals made while apart win over the adds they observed, not over a concurrent add;
    elements nobody touched stay."""
    a, b = Replica("a"), Replica("b")
    add(a, 1, 2, 3, "kept")
    net, _ = connected(a, b)
    net.links.clear()
    discard(a, 1, 3)
    discard(b, 2)
    add(b, 3)  # re-added concurrently with a's removal of 3: add wins
    add(a, 4)
    connected(a, b)
    assert a.digest() == b.digest()
    assert value(a, "set") == {3, 4, "kept"}


def test_digest_exchange_ships_only_what_the_peer_lacks() -> None:
    """After a partition, each side sends the few new elements, not its large state."""
    a, b = Replica("a"), Replica("b")
    add(a, *range(2000))
    count(a, 100)
    net, _ = connected(a, b)
    assert a.digest() == b.digest()
    net.links.clear()

    add(a, "new-on-a")
    add(b, "new-on-b")
    count(b, 1)
    full = sum(len(codec.encode(s)) for s in (a.snapshot("set"), a.snapshot("counter")) if s)
    assert full > 10_000

    net2 = Network()
    link = net2.connect(a, b)
    net2.run()
    assert a.digest() == b.digest()
    assert value(a, "set") == set(range(2000)) | {"new-on-a", "new-on-b"}
    for end, _ in link.ends():
        assert 0 < end.session.stats.payload_bytes_out < full / 20
    (answer,) = sent_deltas(net2, "a", "b")
    shipped = entry_states(answer)["set"]
    assert shipped.value == {"new-on-a"}


def test_in_sync_replicas_exchange_empty_answers() -> None:
    """Two replicas already equal answer each other's digest with an empty delta."""
    a, b = Replica("a"), Replica("b")
    add(a, 1)
    connected(a, b)
    net2 = Network()
    net2.connect(a, b)
    net2.run()
    for s, r in [("a", "b"), ("b", "a")]:
        assert [d.entries for d in sent_deltas(net2, s, r)] == [[]]


# -- pushing and acknowledgement ----------------------------------------------------------------


def test_local_updates_are_pushed_and_acknowledged() -> None:
    """After the handshake each new update reaches the peer and is acked up to our sequence."""
    a, b = Replica("a"), Replica("b")
    net, (link,) = connected(a, b)
    sa = link.left.session
    for i in range(5):
        add(a, i)
        count(a, i + 1)
        net.run()
        assert value(b, "set") == set(range(i + 1))
        assert sa.acked == sa.sent == a.buffer.sequence
        assert sa.next_deadline() is None
    assert a.digest() == b.digest()
    assert value(b, "counter") == 15
    assert sa.needs_from() == a.buffer.sequence


def test_updates_between_frames_coalesce_into_one_push() -> None:
    """Several updates made while a push is pending go out joined in one Delta."""
    a, b = Replica("a"), Replica("b")
    net, _ = connected(a, b)
    before = len(sent_deltas(net, "a", "b"))
    for i in range(10):
        add(a, i)
    net.run()
    pushes = sent_deltas(net, "a", "b")[before:]
    assert len(pushes) == 1
    assert pushes[0].upto == a.buffer.sequence
    assert value(b, "set") == set(range(10))


def pushes_of_one_update_per_round(net: Network) -> list[Delta]:
    """The pushes a made to b when it made one update per round, ten rounds in a row."""
    a, b = Replica("a"), Replica("b")
    connected(a, b, net=net)
    before = len(sent_deltas(net, "a", "b"))
    for i in range(10):
        add(a, i)
        net.step()
    net.run()
    assert value(b, "set") == set(range(10))
    return sent_deltas(net, "a", "b")[before:]


def test_a_push_cap_makes_updates_made_meanwhile_go_out_joined() -> None:
    """With one push in flight at most, the updates made while it waits for its ack leave
    together in the next push: fewer, larger frames, whose ranges still chain up."""
    eager = pushes_of_one_update_per_round(Network())
    capped = pushes_of_one_update_per_round(Network(max_pushes_in_flight=1))
    assert len(eager) == 10
    assert len(capped) <= len(eager) // 2 + 1  # a push every other round, and the last
    assert [p.since for p in capped[1:]] == [p.upto for p in capped[:-1]]
    assert capped[-1].upto == eager[-1].upto
    assert max(len(entry_states(p)["set"].value) for p in capped) > 1


def test_bp_never_sends_a_group_back_to_its_origin() -> None:
    """In a chain a-b-c, b relays a's groups to c and c's to a, never back where they came from."""
    a, b, c = Replica("a"), Replica("b"), Replica("c")
    net, (ab, bc) = connected(a, b, c)
    for i in range(4):
        add(a, f"a{i}")
        count(a, 1)
        add(c, f"c{i}")
        count(c, -1)
        net.run()
        add(b, f"b{i}")
        net.run()
    assert a.digest() == b.digest() == c.digest()
    assert value(c, "set") >= {"a0", "a3"} and value(a, "set") >= {"c0", "c3"}

    for sender, receiver in [("b", a), ("b", c)]:
        pushes = sent_deltas(net, sender, receiver.id)[1:]  # [0] answers the handshake digest
        assert pushes
        for delta in pushes:
            for state in entry_states(delta).values():
                assert receiver.writer not in replicas_in(state), (sender, receiver.id, delta)
    assert ab.right.session.acked == bc.left.session.acked == b.buffer.sequence


@pytest.mark.parametrize("cap", [None, 1])
def test_an_ack_waits_for_a_push_to_ride_on_unless_our_pushes_are_at_the_cap(
    cap: int | None,
) -> None:
    """Both sides push at once; each then owes the other an ack. Without a cap the acks wait
    (`ack_delay`) for a push to ride on; at the cap no push of ours can go before the peer's
    ack, so ours goes at once (else both would wait out the delay on every exchange)."""
    a, b = Replica("a"), Replica("b")
    net, (link,) = connected(a, b, net=Network(max_pushes_in_flight=cap, ack_delay=1.0))
    add(a, "from a")
    add(b, "from b")
    net.run()  # no time passes
    ends = [end.session for end, _ in link.ends()]
    assert value(a, "set") == value(b, "set") == {"from a", "from b"}
    if cap is None:
        assert all(s.acked < s.sent for s in ends)  # the acks wait out the delay
    else:
        assert all(s.acked == s.sent > 0 and not s.window.pushes for s in ends)


class RunReplica(Replica):
    """Writes under its run's name, as an in-memory `crdtstate.Replica` does."""

    @property
    def writer(self) -> str:
        return writer_name(self.id, self.incarnation)


def test_a_peer_is_never_pushed_back_what_its_run_wrote() -> None:
    """In a triangle where a's push to b is lost, b first gets a's update relayed by c (so
    from origin c): it does not push it to a, which wrote it, and all three converge."""
    a, b, c = RunReplica("a"), RunReplica("b"), RunReplica("c")
    net = Network()
    for x, y in [(a, b), (b, c), (a, c)]:
        net.connect(x, y)
    net.run()
    lost: list[Delta] = []

    def fate(sender: str, receiver: str, message: Any) -> int:
        if (sender, receiver) == ("a", "b") and isinstance(message, Delta) and not lost:
            lost.append(message)
            return 0
        return 1

    net.fate = fate
    before = len(sent_deltas(net, "b", "a"))
    add(a, "x")
    count(a, 2)
    net.settle()
    assert lost and value(b, "set") == {"x"} and value(b, "counter") == 2
    assert a.digest() == b.digest() == c.digest()
    for delta in sent_deltas(net, "b", "a")[before:]:
        assert not entry_states(delta), delta  # acks only: nothing of a's own goes back


def test_bp_sends_nothing_when_every_new_group_came_from_the_peer() -> None:
    """A group received from the peer alone needs no frame back, yet counts as acknowledged."""
    a, b = Replica("a"), Replica("b")
    net, (link,) = connected(a, b)
    before = len(sent_deltas(net, "b", "a"))
    add(a, "x")
    net.run()
    assert sent_deltas(net, "b", "a")[before:] == []
    sb = link.right.session
    assert b.buffer.sequence == 1
    # Known held: nothing in flight to retransmit, and the group may be collected.
    assert sb.needs_from() == b.buffer.sequence and sb.next_deadline() is None
    assert collect_garbage(b.buffer, [sb]) == 1 and len(b.buffer) == 0
    # Protocol 2 skips the frame but not the range: b's next push starts where its last frame
    # ended, so it covers the skipped group too and a's ack of it is whole.
    assert (sb.sent, sb.acked) == (0, 0)
    add(b, "y")
    net.run()
    (push,) = sent_deltas(net, "b", "a")[before:]
    assert (push.since, push.upto) == (0, 2)
    assert entry_states(push)["set"].value == {"y"}  # not "x", which came from a
    assert replicas_in(entry_states(push)["set"]) == {b.writer}
    assert sb.acked == sb.sent == b.buffer.sequence == 2
    assert sb.next_deadline() is None and a.digest() == b.digest()


def test_rr_a_duplicated_delta_is_not_buffered_twice() -> None:
    """Receiving the same Delta twice joins it once: the buffer gains one group, not two."""
    a, b = Replica("a"), Replica("b")
    net, _ = connected(a, b)
    net.fate = lambda s, r, m: 2 if isinstance(m, Delta) else 1
    add(a, 1, 2)
    count(a, 3)
    net.run()
    assert len(sent_deltas(net, "a", "b")) == 2
    assert b.buffer.sequence == 1
    assert a.digest() == b.digest()


def test_rr_only_the_novel_part_of_a_known_group_is_buffered() -> None:
    """In a triangle a group reaching c twice is buffered once, and a known part not at all."""
    a, b, c = Replica("a"), Replica("b"), Replica("c")
    net = Network()
    net.connect(a, b)
    net.connect(b, c)
    net.connect(a, c)
    net.run()
    assert net.all_open()
    add(a, "from-a")
    net.run()
    assert a.digest() == b.digest() == c.digest()
    assert c.buffer.sequence == 1 and b.buffer.sequence == 1

    # Everything known: nothing buffered. Partly known: only the new element is buffered.
    assert c.apply_remote({"set": a.snapshot("set")}, origin="b") is None
    assert c.buffer.sequence == 1
    add(a, "second")
    assert c.apply_remote({"set": a.snapshot("set")}, origin="b") == 2
    assert c.buffer.collect(1)["set"].value == {"second"}


def test_acks_are_monotone_and_stale_acks_are_ignored() -> None:
    """An older ack arriving after a newer one leaves `acked` where it was."""
    a = Replica("a")
    for i in range(5):
        add(a, i)
    session = opened(a, "b")
    history = []
    for upto in [2, 5, 3, 0, 5, 4]:
        assert session.receive_data(encode_message(Ack(upto=upto)), 1.0) == []
        history.append(session.acked)
    assert history == [2, 5, 5, 5, 5, 5]
    assert session.state is SessionState.OPEN


@PROPERTY
@given(st.integers(0, 8), st.lists(st.integers(0, 12), max_size=12))
def test_acked_is_the_running_maximum_of_valid_acks(groups: int, acks: list[int]) -> None:
    """`acked` is the max of the acks up to our sequence; an ack beyond it ends the session."""
    a = Replica("a")
    for i in range(groups):
        add(a, i)
    session = opened(a, "b")
    expected = 0
    for upto in acks:
        events = session.receive_data(encode_message(Ack(upto=upto)), 1.0)
        if upto > groups:
            assert [type(e) for e in events] == [SessionClosed]
            assert events[0].kind is CloseKind.PROTOCOL
            assert session.acked == expected
            return
        expected = max(expected, upto)
        assert session.acked == expected


def test_an_ack_beyond_our_sequence_is_a_protocol_error() -> None:
    """A peer acknowledging a group we never made is broken: close with a bye."""
    a = Replica("a")
    add(a, 1)
    session = opened(a, "b")
    (event,) = session.receive_data(encode_message(Ack(upto=2)), 1.0)
    assert isinstance(event, SessionClosed) and event.kind is CloseKind.PROTOCOL
    assert "2" in event.reason
    ends_with_bye(session.data_to_send(1.0))
    assert session.acked == 0


@pytest.mark.parametrize("when", ["handshake", "push"])
def test_a_kind_conflict_closes_the_session_and_leaves_the_replica(when: str) -> None:
    """A peer's object of another kind under the same name: apply_remote refuses the whole
    group, the driver aborts the session, and the replica keeps its state."""
    a, b = Replica("a"), Replica("b")
    count(b, 7)
    if when == "handshake":
        net = Network()
        link = net.connect(a, b)
    else:
        net, (link,) = connected(a, b)
    # Concurrently, "x" is created as a set on b and as a counter on a.
    add(b, "mine", name="x")
    count(a, 1, name="x")
    add(a, "other", name="y")  # travels in the same Delta as a's "x"
    before = (b.digest(), b.buffer.sequence, b.names())
    net.run()

    for end, _ in link.ends():
        assert end.session.state is SessionState.CLOSED
        (closed,) = closes(end)
        assert closed.kind is CloseKind.PROTOCOL and "kind" in closed.reason
        assert isinstance(end.events[end.events.index(closed) - 1], DeltasReceived)
    assert net.messages("b", "a", Bye) and net.messages("a", "b", Bye)
    assert (b.digest(), b.buffer.sequence, b.names()) == before
    assert value(b, "x") == {"mine"} and value(b, "y") is None
    assert value(a, "x") == 1 and value(a, "counter") == (7 if when == "push" else None)


def test_a_delta_for_a_declared_object_arrives_as_its_declared_class() -> None:
    """The receiving session reads an entry straight into the local object's declared class
    (each element validated once, by the declaration), not loosely first."""
    a, b = Replica("a"), Replica("b")
    b.container("config", ORMap[str, int])
    net, _ = connected(a, b)
    a.container("config", ORMap[str, int]).update(lambda m: m.__setitem__("port", 80))
    net.run()
    (received,) = [e for e in net.links[0].right.events if isinstance(e, DeltasReceived)][-1:]
    assert type(received.deltas["config"]) is ORMap[str, int]
    assert value(b, "config") == {"port": 80}


def test_a_delta_that_breaks_the_declaration_closes_the_session_and_leaves_the_replica() -> None:
    """A peer's map of strings where this replica declared a map of ints: the entry fails
    to decode into the declaration, the session ends with a protocol error, nothing changes."""
    a, b = Replica("a"), Replica("b")
    b.container("config", ORMap[str, int]).update(lambda m: m.__setitem__("port", 80))
    a.container("config", ORMap[str, str]).update(lambda m: m.__setitem__("port", "eighty"))
    before = (b.digest(), b.buffer.sequence)
    net = Network()
    link = net.connect(a, b)
    net.run()
    (closed,) = closes(link.right)
    assert closed.kind is CloseKind.PROTOCOL and "'config'" in closed.reason
    assert (b.digest(), b.buffer.sequence) == before
    assert value(b, "config") == {"port": 80}


def test_a_kind_conflict_on_a_long_name_still_closes_with_a_bye() -> None:
    """Object names may have 1024 characters; a conflict on one still ends the session with a
    bye through the driver path (the refusal's reason quotes the name)."""
    a, b = Replica("a"), Replica("b")
    net, (link,) = connected(a, b)
    add(b, "mine", name=LONG)
    count(a, 1, name=LONG)
    before = (b.digest(), b.buffer.sequence)
    net.run()
    for end, _ in link.ends():
        assert end.session.state is SessionState.CLOSED
        assert [c.kind for c in closes(end)] == [CloseKind.PROTOCOL]
    assert net.messages("b", "a", Bye)
    assert all(len(bye.reason) <= 1000 for bye in net.messages("b", "a", Bye))
    assert (b.digest(), b.buffer.sequence) == before


def test_a_delta_over_the_frame_limit_is_split_and_acked_once_complete() -> None:
    """Deltas too big for one frame go out in several; only the last carries the range
    (since, upto], the earlier ones claim an empty range, so the peer's ack covers the groups
    only once every part has arrived."""
    a, b = Replica("a"), Replica("b")
    net = Network(max_frame_bytes=1200, ordered=True)  # splitting relies on in-order frames
    net, (link,) = connected(a, b, net=net)
    sa, sb = link.left.session, link.right.session
    for name in ("p", "q", "r"):
        add(a, *(f"{name}{i:03}" for i in range(40)), name=name)
    assert all(len(codec.encode(a.snapshot(n) or AWSet())) > 400 for n in ("p", "q", "r"))
    acked_before = sa.acked
    frames = sa.data_to_send(net.now)
    pushes = [decode_message(f) for f in frames]
    assert len(pushes) >= 2 and all(isinstance(d, Delta) for d in pushes)
    assert all(len(f) <= 1200 for f in frames)
    ranges = [(d.since, d.upto) for d in pushes if isinstance(d, Delta)]
    last = (acked_before, a.buffer.sequence)
    assert ranges == [(acked_before, acked_before)] * (len(pushes) - 1) + [last]
    for i, frame in enumerate(frames):
        net.deliver(link.right, frame)
        if i < len(frames) - 1:
            assert sb.held.upto == acked_before  # all b may acknowledge so far
    assert sb.held.upto == a.buffer.sequence
    net.run()
    assert a.digest() == b.digest()
    assert sa.acked == a.buffer.sequence
    assert [m.upto for m in net.messages("b", "a", Ack)][-1] == a.buffer.sequence
    assert sa.next_deadline() is None


def test_a_digest_answer_over_the_frame_limit_is_split() -> None:
    """The answer to a digest is split the same way: it converges and is acked once whole."""
    a, b = Replica("a"), Replica("b")
    for name in ("p", "q", "r"):
        add(a, *(f"{name}{i:03}" for i in range(40)), name=name)
    net = Network(max_frame_bytes=1200, ordered=True)
    net, (link,) = connected(a, b, net=net)
    answers = sent_deltas(net, "a", "b")
    assert len(answers) >= 2
    assert all(len(encode_message(d)) <= 1200 for d in answers)
    assert [d.upto for d in answers] == [0] * (len(answers) - 1) + [a.buffer.sequence]
    assert a.digest() == b.digest()
    assert link.left.session.acked == a.buffer.sequence
    assert net.all_open()


def test_an_object_too_big_for_any_frame_ends_the_session() -> None:
    """An object whose delta cannot fit in a frame closes the session (it would never sync)."""
    a, b = Replica("a"), Replica("b")
    net = Network(max_frame_bytes=300)
    net, (link,) = connected(a, b, net=net)
    add(a, "x" * 1000)
    net.run()
    assert link.left.session.state is SessionState.CLOSED
    assert "frame limit" in (link.left.session.close_reason or "")
    assert net.messages("a", "b", Bye)


# -- loss and retransmission --------------------------------------------------------------------


def drop_first(kind: type, sender: str) -> Any:
    """A fate dropping the first `kind` frame from `sender`, delivering everything else."""
    dropped: list[Any] = []

    def fate(s: str, r: str, m: Any) -> int:
        if s == sender and isinstance(m, kind) and not dropped:
            dropped.append(m)
            return 0
        return 1

    return fate


def test_a_lost_push_is_retransmitted_after_the_timeout() -> None:
    """A dropped Delta is resent once `now` passes retransmit_after, not before."""
    a, b = Replica("a"), Replica("b")
    net, (link,) = connected(a, b)
    sa = link.left.session
    net.fate = drop_first(Delta, "a")
    add(a, 1)
    count(a, 2)
    net.run()
    assert value(b, "set") is None and sa.acked < sa.sent
    deadline = sa.next_deadline()
    assert deadline == net.now + net.retransmit_after

    net.advance(net.retransmit_after / 2)
    net.run()
    assert sa.stats.retransmits == 0 and value(b, "set") is None

    net.now = deadline
    net.run()
    assert sa.stats.retransmits == 1
    assert a.digest() == b.digest()
    assert sa.acked == a.buffer.sequence and sa.next_deadline() is None


def test_a_lost_ack_is_healed_by_retransmission_without_rebuffering() -> None:
    """A dropped Ack makes the sender resend; the receiver acks again and buffers nothing new."""
    a, b = Replica("a"), Replica("b")
    net, (link,) = connected(a, b)
    net.fate = drop_first(Ack, "b")
    add(a, 1)
    net.run()
    assert value(b, "set") == {1} and b.buffer.sequence == 1
    net.settle()
    assert link.left.session.stats.retransmits == 1
    assert link.left.session.acked == a.buffer.sequence
    assert b.buffer.sequence == 1


def test_a_lost_push_followed_by_a_delivered_one_is_still_recovered() -> None:
    """Losing one push must not be hidden by the ack of the next: everything arrives."""
    a, b = Replica("a"), Replica("b")
    net, _ = connected(a, b)
    net.fate = drop_first(Delta, "a")
    add(a, "lost")
    net.run()  # the push carrying "lost" is dropped
    add(a, "later")
    net.settle()  # the push carrying "later" arrives and is acked
    assert value(b, "set") == {"lost", "later"}
    assert a.digest() == b.digest()


def test_a_peer_the_buffer_cannot_serve_is_resynced_by_digests() -> None:
    """When the groups a peer needs were discarded, the session falls back to a digest
    exchange (counted in stats.resyncs) and the replicas still converge."""
    a, b = Replica("a"), Replica("b")
    add(a, "old")
    net, (link,) = connected(a, b)
    net.fate = lambda s, r, m: 0 if s == "a" and isinstance(m, Delta) else 1
    add(a, "x")
    count(a, 4)
    net.run()  # the push of both groups is lost
    assert value(b, "set") == {"old"}
    a.buffer.discard_through(a.buffer.sequence)
    add(b, "y")
    net.fate = None
    net.settle()
    sa = link.left.session
    assert sa.stats.resyncs == 1
    assert a.digest() == b.digest()
    assert value(b, "set") == {"old", "x", "y"} and value(b, "counter") == 4
    assert sa.acked == a.buffer.sequence
    assert net.all_open()


def test_a_peer_behind_the_collected_buffer_is_resynced_without_loss() -> None:
    """Updates made while a link is idle and then collected reach the peer by digest sync."""
    a, b = Replica("a"), Replica("b")
    net, (link,) = connected(a, b)
    for i in range(5):
        add(a, i)
    a.buffer.discard_through(a.buffer.sequence)
    assert len(a.buffer) == 0
    net.settle()
    assert link.left.session.stats.resyncs == 1
    assert value(b, "set") == set(range(5))
    add(a, "after")
    net.settle()
    assert value(b, "set") == {*range(5), "after"} and a.digest() == b.digest()
    assert link.left.session.stats.resyncs == 1


# -- convergence of a chain under random updates and loss ---------------------------------------

REPLICA_IDS = ("a", "b", "c")
replica_choice = st.sampled_from(REPLICA_IDS)
ADD = st.tuples(st.just("add"), replica_choice, st.integers(0, 5))
OPS = [
    ADD,
    ADD,  # twice: adds are what there is to sync
    st.tuples(st.just("discard"), replica_choice, st.integers(0, 5)),
    st.tuples(st.just("count"), replica_choice, st.integers(-3, 3)),
    st.tuples(st.just("pump"), replica_choice, st.integers(1, 3)),
    st.tuples(st.just("tick"), replica_choice, st.integers(1, 8)),
]
RECONNECT = st.tuples(st.just("reconnect"), replica_choice, st.integers(0, 1))
ops = st.lists(st.one_of(*OPS), min_size=4, max_size=30)
ops_with_reconnects = st.lists(st.one_of(*OPS, RECONNECT), min_size=4, max_size=30)


def run_chain(
    operations: list[tuple[str, str, int]],
    *,
    seed: int,
    drop: float,
    duplicate: float,
    faulty: tuple[type, ...] = DATA_FRAMES,
    max_pushes_in_flight: int | None = None,
    triangle: bool = False,
) -> None:
    """Run `operations` on the chain a <-> b <-> c (closed into a triangle of replicas writing
    under their run's name, with `triangle`), heal the links, and check convergence to the
    join of every update's delta."""
    kind = RunReplica if triangle else Replica
    replicas = {rid: kind(rid) for rid in REPLICA_IDS}
    net = Network(
        rng=random.Random(seed),
        drop=drop,
        duplicate=duplicate,
        faulty=faulty,
        max_pushes_in_flight=max_pushes_in_flight,
    )
    net.connect(replicas["a"], replicas["b"])
    net.connect(replicas["b"], replicas["c"])
    if triangle:
        net.connect(replicas["a"], replicas["c"])
    reference: dict[str, Crdt] = {"set": AWSet(), "counter": PNCounter()}
    acked: dict[PeerSession, int] = {}

    for op, rid, arg in operations:
        replica = replicas[rid]
        before = replica.buffer.sequence
        if op == "add":
            add(replica, arg)
        elif op == "discard":
            discard(replica, arg)
        elif op == "count":
            count(replica, arg)
        elif op == "pump":
            for _ in range(arg):
                net.step()
        elif op == "reconnect":
            net.reconnect(net.links[arg])
        else:
            net.advance(arg)
        if op in ("add", "discard", "count") and replica.buffer.sequence > before:
            for name, delta in replica.buffer.collect(before).items():
                reference[name].merge(delta)
        for end in (e for link in net.links for e, _ in link.ends()):
            assert end.session.acked >= acked.get(end.session, 0), "acks are monotone"
            acked[end.session] = end.session.acked

    net.drop = net.duplicate = 0.0
    net.settle()
    assert net.all_open()
    digests = {rid: r.digest() for rid, r in replicas.items()}
    assert len(set(digests.values())) == 1, digests
    for name, state in reference.items():
        for rid, replica in replicas.items():
            assert (replica.snapshot(name) or type(state)()) == state, (rid, name)


@CHAIN
@given(ops, st.integers(0, 2**32), st.floats(0.0, 0.3))
def test_a_chain_converges_to_the_join_of_all_updates(
    operations: list[tuple[str, str, int]], seed: int, duplicate: float
) -> None:
    """Lossless links (with duplicated data frames): a and c, which never meet, and b in the
    middle all end with the state obtained by joining every update's delta."""
    run_chain(operations, seed=seed, drop=0.0, duplicate=duplicate)


@CHAIN
@given(ops, st.integers(0, 2**32), st.floats(0.05, 0.5))
def test_a_chain_converges_despite_lost_frames(
    operations: list[tuple[str, str, int]], seed: int, drop: float
) -> None:
    """Random Delta and Ack frames are lost; once the links heal, retransmission after the
    timeout brings all three replicas to the join of every update's delta."""
    run_chain(operations, seed=seed, drop=drop, duplicate=0.1)


@CHAIN
@given(ops, st.integers(0, 2**32), st.floats(0.05, 0.5))
def test_a_chain_with_one_push_in_flight_converges_despite_lost_frames(
    operations: list[tuple[str, str, int]], seed: int, drop: float
) -> None:
    """A push waits for the previous one's ack: a lost ack or push holds the next back only
    until retransmission, and the chain still converges to the join of every update."""
    run_chain(operations, seed=seed, drop=drop, duplicate=0.1, max_pushes_in_flight=1)


@CHAIN
@given(ops, st.integers(0, 2**32), st.floats(0.05, 0.5))
def test_a_triangle_converges_despite_lost_frames(
    operations: list[tuple[str, str, int]], seed: int, drop: float
) -> None:
    """Every replica a peer of the two others, so updates also arrive relayed (and a peer's
    own writes are not pushed back to it): lost frames heal and all three converge."""
    run_chain(operations, seed=seed, drop=drop, duplicate=0.1, triangle=True)


@CHAIN
@given(ops_with_reconnects, st.integers(0, 2**32))
def test_a_chain_with_reconnects_converges(
    operations: list[tuple[str, str, int]], seed: int
) -> None:
    """Links closed and re-established at random resume by digest exchange: the chain still
    converges to the join of every update's delta."""
    run_chain(operations, seed=seed, drop=0.0, duplicate=0.0)


@CHAIN
@given(ops, st.integers(0, 2**32), st.floats(0.05, 0.5))
def test_a_chain_converges_when_any_frame_but_bye_is_lost(
    operations: list[tuple[str, str, int]], seed: int, drop: float
) -> None:
    """Protocol 2 also resends a lost hello and a lost digest (with backoff): with every frame
    type but bye lost or duplicated at random, the chain still opens and converges."""
    run_chain(
        operations,
        seed=seed,
        drop=drop,
        duplicate=0.1,
        faulty=(Hello, Digest, Delta, Ack),
    )
