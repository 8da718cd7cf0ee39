"""Relay avoidance (`antientropy.relays`): in a full mesh a replica does not forward what the
third one gets from the writer directly, and every replica still gets every update when a
link is missing or goes down (the peer that lost it is resynchronised by digests)."""

from __future__ import annotations

from antientropy.messages import Delta, Links
from crdtstate.types import AWSet

from .session_pump import Link, Network, Replica

REPLICAS = ("a", "b", "c")


FULL = (("a", "b"), ("b", "c"), ("a", "c"))


def mesh(
    *, relays: bool, pairs: tuple[tuple[str, str], ...] = FULL, resume: bool = False
) -> tuple[Network, dict[str, Replica], dict[frozenset[str], Link]]:
    net = Network(ordered=True, relays=relays, resume=resume)
    replicas = {r: Replica(r) for r in REPLICAS}
    links = {frozenset(pair): net.connect(replicas[pair[0]], replicas[pair[1]]) for pair in pairs}
    net.settle()
    return net, replicas, links


def add(replica: Replica, *elements: int) -> None:
    for element in elements:
        replica.container("tags", AWSet).update(lambda s, e=element: s.add(e))


def tags(replica: Replica) -> frozenset:
    return frozenset(replica.container("tags", AWSet).get())


def pushed(net: Network, sender: str, receiver: str) -> int:
    """Pushes (deltas other than digest answers) with entries from `sender` to `receiver`."""
    return sum(
        1 for m in net.messages(sender, receiver, Delta) if m.since is not None and m.entries
    )


def test_a_full_mesh_does_not_relay_what_the_writer_pushed_itself() -> None:
    relayed = {}
    for relays in (False, True):
        net, replicas, _ = mesh(relays=relays)
        for round_ in range(5):
            add(replicas["a"], round_)
            net.run()
        net.settle()
        assert all(tags(r) == set(range(5)) for r in replicas.values())
        relayed[relays] = pushed(net, "b", "c") + pushed(net, "c", "b")
    assert relayed[False] > 0  # plain delta shipping forwards a's groups both ways
    assert relayed[True] == 0


def test_links_are_announced_to_each_peer() -> None:
    net, _, _ = mesh(relays=True)
    announced = net.messages("c", "b", Links)
    assert announced and announced[-1].peers == ["a"]


def test_without_a_link_to_the_writer_the_third_replica_gets_its_updates_relayed() -> None:
    net, replicas, _ = mesh(relays=True, pairs=(("a", "b"), ("b", "c")))
    add(replicas["a"], 1, 2)
    net.settle()
    assert tags(replicas["c"]) == {1, 2}
    assert pushed(net, "b", "c") > 0


def test_a_link_that_goes_down_makes_its_peers_resynchronise_it() -> None:
    """c loses its link to a just as a writes: the push a made for c is lost, and b left the
    update out of its push to c because c announced a link to a; c's new announcement makes
    b resynchronise c, which then gets it."""
    net, replicas, links = mesh(relays=True)
    add(replicas["a"], 1)
    a_c: Link = links[frozenset("ac")]
    net.cut(a_c)  # before a's push to c is delivered
    b_c = links[frozenset("bc")]
    b_session = b_c.left.session if b_c.left.replica.id == "b" else b_c.right.session
    net.settle()
    assert tags(replicas["c"]) == {1}
    assert b_session.stats.resyncs >= 1
    add(replicas["a"], 2)  # from now on b relays a's updates to c
    net.settle()
    assert all(tags(r) == {1, 2} for r in replicas.values())


def test_relays_are_not_avoided_on_links_that_may_lose_frames() -> None:
    net = Network(ordered=False, relays=True)
    replicas = {r: Replica(r) for r in REPLICAS}
    for left, right in (("a", "b"), ("b", "c"), ("a", "c")):
        net.connect(replicas[left], replicas[right])
    net.settle()
    assert not net.messages("c", "b", Links)


def test_back_propagation_looks_only_at_groups_the_peer_may_have_been_relayed() -> None:
    """Once the peer announced its links, our own groups and those from its links are not
    checked against what it sends (they reach it from their origin alone, or are left out)."""
    from dataclasses import dataclass

    from antientropy.relays import LinkBook, PeerLinks

    @dataclass
    class Group:
        sequence: int
        origin: str
        deltas: dict

    groups = [Group(1, "a", {}), Group(2, "c", {}), Group(3, "d", {}), Group(4, "b", {})]
    links = PeerLinks(LinkBook(), "a")
    assert links.unsettled(groups) == groups  # nothing announced yet: every group
    links.learn(Links(peers=["c"]), "b")
    assert [g.sequence for g in links.unsettled(groups)] == [3, 4]
    assert PeerLinks(None, "a").unsettled(groups) == groups  # a lossy link: no relay avoidance


def test_a_peer_naming_us_among_its_links_still_gets_what_we_made() -> None:
    from dataclasses import dataclass

    from antientropy.backprop import HeldGroups
    from antientropy.relays import LinkBook, PeerLinks

    @dataclass
    class Group:
        sequence: int
        origin: str

    links = PeerLinks(LinkBook(), "a")
    links.learn(Links(peers=["a", "c"]), "b")
    held = HeldGroups()
    links.mark_relayed([Group(1, "a"), Group(2, "c")], held)  # type: ignore[list-item]
    assert 1 not in held and 2 in held


def test_a_link_lost_while_the_session_was_down_is_noticed_when_it_resumes() -> None:
    """b left a's update out of its push to c (c announced a link to a); then the b-c
    connection drops and a-c goes down for good before c could say so. The new b-c session
    resumes past that update (claims, not digests), so c's first announcement in it is
    compared with what c announced before, and the loss makes b resynchronise c."""
    from antientropy.messages import Claim

    net, replicas, links = mesh(relays=True, resume=True)
    net.fate = lambda sender, receiver, m: 0 if (sender, receiver) == ("a", "c") else 1
    add(replicas["a"], 1)
    net.step()  # a's push reaches b; the one to c is lost
    net.step()  # b's push to c leaves it out
    net.fate = None
    net.cut(links[frozenset("ac")])
    net.reconnect(links[frozenset("bc")])
    net.settle()
    assert net.messages("c", "b", Claim)  # the new session resumed rather than digested
    assert tags(replicas["c"]) == {1}
