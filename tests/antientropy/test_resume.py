"""Reconnecting to a peer run seen before (protocol 5): a `Claim` instead of a digest, and a
`Resume` from where the peer was, only when the claim agrees with what the other side remembers.

Every case ends with the replicas converged: a claim may save bytes, never skip data.
"""

from __future__ import annotations

from typing import Any

import pytest

from antientropy import collect_garbage
from antientropy.messages import Ack, Claim, Delta, Digest, Resume
from antientropy.resume import judge
from crdtstate.buffer import DeltaBuffer
from crdtstate.resume_points import ResumePoint, ResumePoints
from crdtstate.types import AWSet

from .session_pump import Link, Network, Replica

# -- helpers ------------------------------------------------------------------------------------


def add(replica: Replica, *elements: Any) -> None:
    def updater(s: Any) -> None:
        for element in elements:
            s.add(element)

    replica.container("set", AWSet).update(updater)


def value(replica: Replica) -> Any:
    state = replica.snapshot("set")
    return None if state is None else state.value


def collect(net: Network) -> None:
    """Garbage collection on every replica, as a mesh runs it: its open sessions and the
    peers it remembers."""
    owners: dict[str, tuple[Replica, list[Any]]] = {}
    for link in net.links:
        for end, _ in link.ends():
            replica, sessions = owners.setdefault(end.replica.id, (end.replica, []))
            sessions.append(end.session)
    for replica, sessions in owners.values():
        collect_garbage(replica.buffer, sessions, replica.resume_points)


def since(net: Network, index: int) -> list[Any]:
    """The messages logged (delivered) from frame `index` on."""
    return [f.message for f in net.log[index:] if f.delivered]


def kinds(net: Network, index: int) -> set[type]:
    return {type(m) for m in since(net, index)}


def synced_pair(**options: Any) -> tuple[Network, Link, Replica, Replica]:
    """Two replicas that exchanged digests once and pushed a little since, then were
    disconnected (a reconnect comes next), with garbage collected as a mesh would."""
    net = Network(resume=True, **options)
    a, b = Replica("a", incarnation=1), Replica("b", incarnation=2)
    add(a, "a1")
    add(b, "b1")
    link = net.connect(a, b)
    net.settle()
    add(a, "a2")
    add(b, "b2")
    net.settle()
    collect(net)
    return net, link, a, b


def reconnect(net: Network, link: Link) -> tuple[Link, int]:
    """A new connection between the same replicas; returns it and where its frames start."""
    fresh = net.reconnect(link)
    collect(net)
    return fresh, len(net.log)


# -- the resume path ----------------------------------------------------------------------------


def test_a_reconnect_resumes_with_claims_and_ships_only_what_is_new() -> None:
    """No digest crosses a reconnect between runs that remember each other; what was written
    while apart arrives, and nothing written before is sent again."""
    net, link, a, b = synced_pair()
    add(a, "a3")
    link, start = reconnect(net, link)
    net.settle()
    assert Digest not in kinds(net, start)
    assert len(net.messages("a", "b", Claim)) == len(net.messages("b", "a", Claim)) == 1
    resumes = [m for m in since(net, start) if isinstance(m, Resume)]
    assert len(resumes) == 2 and all(r.since is not None for r in resumes)
    deltas = [m for m in since(net, start) if isinstance(m, Delta) and m.entries]
    assert len(deltas) == 1  # a3, pushed by a
    assert value(a) == value(b) == {"a1", "a2", "a3", "b1", "b2"}
    for end, _ in link.ends():
        assert end.session.stats.claims_accepted == 1
        assert end.session.stats.claims_refused == 0


def test_resume_points_follow_each_session() -> None:
    """Each side's point records what it holds of the other and what the other acknowledged:
    the claim one side sends is exactly the other's record of it."""
    _, _, a, b = synced_pair()
    pa, pb = a.resume_points.get("b"), b.resume_points.get("a")
    assert pa is not None and pb is not None
    assert (pa.incarnation, pb.incarnation) == (2, 1)
    # each holds what the other sent it; the other's last group (relayed from it) it holds too
    assert pa.held == pb.sent and pb.held == pa.sent
    assert pa.known_held == a.sequence and pb.known_held == b.sequence
    assert pa.acked == pb.held and pb.acked == pa.held


def test_a_claimed_peer_keeps_its_groups_buffered_until_the_bound() -> None:
    """With no session, a remembered peer holds back garbage collection from what it holds of
    ours; once it is `max_behind` groups behind, it holds nothing back."""
    a = Replica("a", incarnation=1)
    book = a.resume_points
    book.max_behind = 10
    point, known = book.open("b", 7)
    assert not known
    for i in range(5):
        add(a, i)
    point.note(acked=3, known_held=3, sent=5)
    assert collect_garbage(a.buffer, [], book) == 3
    for i in range(10):
        add(a, f"more-{i}")
    assert collect_garbage(a.buffer, [], book) == a.sequence


# -- what must fall back to digests ----------------------------------------------------------


def test_a_restarted_in_memory_replica_is_served_by_digests() -> None:
    """A restarted replica is a new run (new incarnation, nothing remembered): no claim is
    made either way, the digest exchange brings it back, and the survivor's record of the old
    run is replaced."""
    net, link, a, _ = synced_pair()
    add(a, "a3")
    b2 = Replica("b", incarnation=3)  # the restart lost b's state: only peers have it
    net.links.remove(link)
    link2 = net.connect(a, b2)
    start = len(net.log)
    net.settle()
    assert Claim not in kinds(net, start) and Resume not in kinds(net, start)
    assert value(a) == value(b2) == {"a1", "a2", "a3", "b1", "b2"}
    point = a.resume_points.get("b")
    assert point is not None and point.incarnation == 3
    assert link2.left.session.stats.claims_refused == 0


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: setattr(p, "held", p.held + 1000), id="claims-beyond-what-we-sent"),
        pytest.param(lambda p: setattr(p, "held", 0), id="claims-less-than-it-acked"),
        pytest.param(lambda p: setattr(p, "acked", p.acked + 1000), id="says-we-acked-more"),
        pytest.param(lambda p: setattr(p, "incarnation", 99), id="about-another-run-of-ours"),
    ],
)
def test_a_lying_or_stale_claim_is_refused_and_digests_follow(tamper: Any) -> None:
    """b's record of a is corrupted (as a stale or lying peer's would be): a refuses the
    claim, b sends its digest, nothing is skipped, and a's own claim still resumes."""
    net, link, a, b = synced_pair()
    add(a, "a3")
    add(b, "b3")
    b_point = b.resume_points.get("a")
    assert b_point is not None
    tamper(b_point)
    link, start = reconnect(net, link)
    if b_point.incarnation == 99:  # b's point no longer names a's run: b does not claim
        assert not net.messages("b", "a", Claim)
    net.settle()
    assert value(a) == value(b) == {"a1", "a2", "a3", "b1", "b2", "b3"}
    to_b = [m for m in since(net, start) if isinstance(m, Resume)]
    if b_point.incarnation != 99:
        assert link.left.session.stats.claims_refused == 1
        assert Resume() in to_b
    assert any(isinstance(m, Digest) for m in net.messages("b", "a", Digest)[-1:])


def test_a_forged_claim_about_another_run_is_refused() -> None:
    """A claim whose incarnation is not ours is refused even when everything else fits."""
    point = ResumePoint("b", 2, held=5, acked=3, known_held=3, sent=9)
    assert judge(Claim(incarnation=1, held=4, acked=5), point, 1, lambda _: True) == 4
    assert isinstance(judge(Claim(incarnation=7, held=4, acked=5), point, 1, lambda _: True), str)
    assert isinstance(judge(Claim(incarnation=1, held=4, acked=5), None, 1, lambda _: True), str)
    assert isinstance(judge(Claim(incarnation=1, held=4, acked=5), point, 1, lambda _: False), str)
    # resumes from what it is known to hold when that is more than it claims
    point.known_held = 6
    assert judge(Claim(incarnation=1, held=4, acked=5), point, 1, lambda s: s == 6) == 6


def test_past_the_buffer_bound_the_claim_is_refused_and_digests_follow() -> None:
    """Groups dropped by the buffer's byte bound cannot be resumed from: refused, digests."""
    net = Network(resume=True)
    a = Replica("a", buffer=DeltaBuffer(max_bytes=300, max_groups=None), incarnation=1)
    b = Replica("b", incarnation=2)
    link = net.connect(a, b)
    add(a, "first")
    net.settle()
    collect(net)
    for i in range(40):  # while apart, more than the buffer keeps
        add(a, f"x{i:02d}")
    assert a.buffer.bytes <= 300  # (reading it applies the bound to the groups not measured)
    assert not a.can_serve(b.resume_points.get("a").held)  # type: ignore[union-attr]
    link, start = reconnect(net, link)
    net.settle()
    assert link.left.session.stats.claims_refused == 1
    assert Digest in kinds(net, start)
    assert value(a) == value(b)
    assert len(value(b)) == 41


def test_the_book_bound_makes_an_absent_peer_resync_by_digests() -> None:
    """Past `max_behind`, garbage collection drops what an absent peer lacks: its claim is
    then refused, and it catches up by digests."""
    net, link, a, b = synced_pair()
    a.resume_points.max_behind = 5
    for i in range(20):
        add(a, f"late-{i}")
    collect(net)
    link, _ = reconnect(net, link)
    net.settle()
    assert link.left.session.stats.claims_refused == 1
    assert value(a) == value(b)


# -- lost frames ------------------------------------------------------------------------------


def drop_first(kind: type, sender: str, net: Network) -> list[int]:
    """Make `net` lose the first frame of `kind` from `sender`; returns the drop count."""
    dropped = [0]

    def fate(src: str, dst: str, message: Any) -> int:
        if src == sender and isinstance(message, kind) and not dropped[0]:
            dropped[0] += 1
            return 0
        return 1

    net.fate = fate
    return dropped


def test_a_lost_verdict_is_recovered_by_the_resent_claim() -> None:
    """The claim is resent after the timeout; the verdict is the same again (not a second
    judgement); still no digest."""
    net, link, a, b = synced_pair()
    add(a, "a3")
    link, start = reconnect(net, link)
    dropped = drop_first(Resume, "a", net)
    net.settle()
    assert dropped == [1]
    assert len(net.messages("b", "a", Claim)) >= 2
    assert Digest not in kinds(net, start)
    assert link.left.session.stats.claims_accepted == 1
    assert value(a) == value(b) == {"a1", "a2", "a3", "b1", "b2"}


def test_a_lost_claim_is_resent() -> None:
    net, link, a, b = synced_pair()
    add(b, "b3")
    link, _ = reconnect(net, link)
    dropped = drop_first(Claim, "a", net)
    net.settle()
    assert dropped == [1]
    assert value(a) == value(b)
    assert link.right.session.stats.claims_accepted == 1


def test_lost_acks_leave_a_claim_above_the_record_and_it_still_resumes() -> None:
    """b's acks never reach a: a's record of b lags behind what b holds. b's claim is above it
    but within what a sent, so it is accepted, and pushes resume after what b holds."""
    net = Network(resume=True)
    a, b = Replica("a", incarnation=1), Replica("b", incarnation=2)
    link = net.connect(a, b)
    net.settle()
    net.fate = lambda src, dst, m: 0 if isinstance(m, Ack) and src == "b" else 1
    add(a, "a1")
    net.run()
    net.fate = None
    a_point, b_point = a.resume_points.get("b"), b.resume_points.get("a")
    assert a_point is not None and b_point is not None
    assert b_point.held > a_point.acked
    claimed = b_point.held
    add(a, "a2")
    link, _ = reconnect(net, link)
    net.settle()
    assert link.left.session.stats.claims_accepted == 1
    assert value(a) == value(b) == {"a1", "a2"}
    pushed = [m for m in net.messages("a", "b", Delta) if m.entries]
    assert pushed[-1].since is not None and pushed[-1].since >= claimed


def test_without_a_book_a_session_refuses_claims() -> None:
    """A session made without resume points sends digests and refuses the peer's claims."""
    net, link, a, b = synced_pair()
    fresh = net.reconnect(link)
    fresh.left.session._book = None  # a, this time, runs without its book
    start = len(net.log)
    net.settle()
    assert Digest in kinds(net, start)
    assert value(a) == value(b)


def test_the_book_forgets_the_oldest_peer_past_max_peers() -> None:
    book = ResumePoints(max_peers=2)
    for peer in ("p", "q", "r"):
        book.open(peer, 1)
    assert book.get("p") is None and len(book) == 2
    point, known = book.open("q", 1)
    assert known and book.restart(point) is not point
    assert book.open("q", 2)[1] is False  # another run of q: a fresh point
