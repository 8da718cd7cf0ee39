"""A push leaves out what the peer itself sent us (`antientropy.backprop.SentByPeer`).

Whatever a peer sends is part of its state, so the join X of it is a lower bound of the peer's
state P, and shipping X.novel(D) instead of D leaves the peer with the same state: P ⊔ X.novel(D)
= P ⊔ D. Checked here for every causal kind on reachable states; convergence of whole meshes
with the trim on is the simulator's property test (tests/simulations/test_convergence.py).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antientropy import DeltasReceived, PeerSession
from antientropy.backprop import SentByPeer
from crdtstate import codec
from crdtstate.replica_state import ReplicaState
from crdtstate.types import ORMap
from crdtstate.types.causal import CausalCrdt
from tests.crdtstate.strategies import HISTORY_LAWS
from tests.crdtstate.type_scenarios import KINDS, Kind, histories, joined

CAUSAL_KINDS = [k for k in KINDS if issubclass(k.cls, CausalCrdt)]


@pytest.mark.parametrize("kind", CAUSAL_KINDS, ids=repr)
@settings(HISTORY_LAWS, derandomize=True)
@given(data=st.data())
def test_the_trimmed_push_leaves_the_peer_in_the_same_state(
    kind: Kind, data: st.DataObject
) -> None:
    history = data.draw(histories(kind))
    peer = data.draw(st.sampled_from(history.states))
    # What the peer sent us: parts of its state (some of its deltas, or itself).
    sent = data.draw(st.lists(st.sampled_from([peer, *history.deltas]), max_size=3))
    sent = [s for s in sent if s is peer or joined(peer, s) == peer] or [type(peer)()]
    push = data.draw(st.sampled_from([*history.states, *history.deltas]))
    known = SentByPeer()
    for part in sent:
        known.learn({"x": part})
    trimmed = known.trim({"x": push}).get("x")
    with_push = joined(peer, push)
    assert (joined(peer, trimmed) if trimmed is not None else peer.copy()) == with_push


def put(state: ReplicaState, key: str, value: str) -> None:
    m = state.object("m", ORMap)
    delta = m.apply(key, lambda reg: reg.assign(value, replica=state.id))
    state.commit_local("m", m, delta)


def test_a_relayed_group_reaches_a_peer_without_what_that_peer_pushed_first() -> None:
    """b relays to a a group from c that holds a's change and c's; a has just pushed its
    change to b, so only c's goes on the wire."""
    a, b = ReplicaState("a", incarnation=1), ReplicaState("b", incarnation=2)
    sa, sb = PeerSession(a, nonce=b"a" * 16), PeerSession(b, nonce=b"b" * 16)

    def pump(sender: PeerSession, receiver: PeerSession, state: ReplicaState) -> list[bytes]:
        frames = sender.data_to_send(0.0)
        for frame in frames:
            for event in receiver.receive_data(frame, 0.0):
                if isinstance(event, DeltasReceived):
                    state.join_remote(event.deltas, receiver.peer or "?")
                    receiver.acknowledge(event.upto)
        return frames

    for _ in range(3):  # handshake and digests
        pump(sa, sb, b)
        pump(sb, sa, a)
    c = ReplicaState("c", incarnation=3)
    put(a, "from-a", "y" * 40)
    c.join_remote(a.collect(0), "a")
    put(c, "from-c", "x" * 40)
    b.join_remote(c.collect(0), "c")  # one group from c holding both changes
    assert len(b.groups_after(0)) == 1
    pump(sa, sb, b)  # a pushes its change to b (nothing new there)
    frames = pump(sb, sa, a)  # b pushes c's group; a's own change is left out
    assert frames and all(b"x" * 40 in f for f in frames if b"from" in f)
    assert not any(b"y" * 40 in f for f in frames)
    assert a.objects["m"] == b.objects["m"]


def test_a_trimmed_delta_keeps_its_declared_class() -> None:
    """What the peer sent arrives in the wire's class (`ormap`); our buffered delta is declared
    (`ORMap[str, int]`): the trimmed part is declared too, so it encodes as declared."""
    ours = ORMap[str, int]()
    theirs = ours.apply("k1", lambda reg: reg.assign(1, replica="b"))
    mine = ours.apply("k2", lambda reg: reg.assign(2, replica="a"))
    both = joined(theirs, mine)
    known = SentByPeer()
    known.learn({"m": codec.decode(codec.encode(theirs))})  # as a session decodes it
    trimmed = known.trim({"m": both})["m"]
    assert type(trimmed) is ORMap[str, int]
    assert set(trimmed.value) == {"k2"}
    assert joined(theirs, trimmed) == both


def test_a_delta_fresh_from_a_mutator_that_the_peer_sent_back_is_left_out_not_removed() -> None:
    """A map delta as `apply` returns it (buffered as is) must know the dots it holds: the peer
    relayed our write back, so the push is empty, and never a removal of that write (found by
    the expiring-map fault test: `novel` read an unindexed delta as holding nothing)."""
    ours = ORMap[str, int]()
    delta = ours.apply("x", lambda reg: reg.assign(1, replica="a"))
    known = SentByPeer()
    known.learn({"m": codec.decode(codec.encode(delta))})  # b relayed it back to us
    assert known.trim({"m": delta}) == {}
    assert delta.store.holds(next(iter(delta.context.dots())))
