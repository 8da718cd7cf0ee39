"""Yjs awareness between replicas, without any I/O: the `Presence` message, the session's
`PresenceReceived` event and `share_presence`, and the `PresenceTable` that decides what is
news (applied and relayed) and what is old (dropped), and when a peer's entry expires."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antientropy import (
    CloseKind,
    PeerReady,
    PeerSession,
    Presence,
    PresenceReceived,
    PresenceTable,
    SessionClosed,
)
from antientropy.messages import (
    MAX_CLOCK,
    MAX_PRESENCE_ENTRIES,
    MAX_PRESENCE_STATE,
    Hello,
    decode_message,
    encode_message,
)
from antientropy.presence import PresenceOutbox
from antientropy.yprotocol import AwarenessEntry as E
from crdtstate import Replica
from crdtstate.errors import ProtocolError

from .test_session import ends_with_bye, opened

clocks = st.integers(min_value=0, max_value=MAX_CLOCK)
json_states = st.none() | st.dictionaries(
    st.text(max_size=8), st.text(max_size=8) | st.integers(-(2**31), 2**31), max_size=4
).map(lambda d: json.dumps(d, ensure_ascii=False))


# -- the message ------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=40), clocks, clocks, json_states),
        min_size=1,
        max_size=20,
    )
)
def test_presence_survives_the_wire(entries: list[tuple[str, int, int, str | None]]) -> None:
    message = Presence(entries=entries)
    assert decode_message(encode_message(message)) == message


def test_presence_uses_one_letter_keys() -> None:
    frame = encode_message(Presence(entries=[("notes", 7, 1, None)]))
    assert msgpack.unpackb(frame) == {"t": "presence", "e": [["notes", 7, 1, None]]}


def raw(entries: Any, **extra: Any) -> bytes:
    return msgpack.packb({"t": "presence", "e": entries, **extra})


@pytest.mark.parametrize(
    "frame",
    [
        raw([]),
        raw(None),
        raw([["notes", 7, 1]]),
        raw([["notes", -1, 1, None]]),
        raw([["notes", 7, MAX_CLOCK + 1, None]]),
        raw([["notes", 7, 1.5, None]]),
        raw([["notes", "7", 1, None]]),
        raw([["notes", 7, 1, {"user": "ann"}]]),  # a state is JSON text, not a map
        raw([["notes", 7, 1, "x" * (MAX_PRESENCE_STATE + 1)]]),
        raw([["n" * 1025, 7, 1, None]]),
        raw([["notes", 7, 1, None]] * (MAX_PRESENCE_ENTRIES + 1)),
        raw([["notes", 7, 1, None]], x=1),
    ],
    ids=[
        "empty",
        "no-list",
        "short-entry",
        "negative-client",
        "clock-too-big",
        "float-clock",
        "string-client",
        "state-not-text",
        "state-too-long",
        "room-name-too-long",
        "too-many-entries",
        "unknown-key",
    ],
)
def test_malformed_presence_is_a_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError, match="malformed presence"):
        decode_message(frame)


def presence(*entries: tuple[str, int, int, str | None]) -> bytes:
    return encode_message(Presence(entries=list(entries)))


async def test_a_session_hands_presence_to_its_driver_as_an_event() -> None:
    session = opened(Replica("a"), "b")
    events = session.receive_data(presence(("notes", 7, 3, '{"user":"ann"}')), 1.0)
    assert events == [PresenceReceived({"notes": [E(7, 3, {"user": "ann"})]})]


@pytest.mark.parametrize(
    "state",
    ["not json", "[1, 2]", '"text"', '{"x": NaN}', "[" * 5000 + "]" * 5000],
    ids=["not-json", "array", "string", "nan", "too-deep"],
)
async def test_a_presence_state_that_is_not_a_json_object_closes_the_session(state: str) -> None:
    a = Replica("a")
    session = opened(a, "b")
    (event,) = session.receive_data(presence(("notes", 7, 3, state)), 1.0)
    assert isinstance(event, SessionClosed) and event.kind is CloseKind.PROTOCOL
    assert "presence" in event.reason
    ends_with_bye(session.data_to_send(1.0))
    assert a.names() == [] and a.buffer.sequence == 0  # nothing of it was stored


async def test_presence_before_hello_closes_an_ordered_session() -> None:
    session = PeerSession(Replica("a"), nonce=b"n" * 16, ordered=True)
    (event,) = session.receive_data(presence(("notes", 7, 3, None)), 0.0)
    assert isinstance(event, SessionClosed) and "unexpected presence" in event.reason


def pump(sa: PeerSession, sb: PeerSession, now: float) -> list[Any]:
    """Exchange frames until both are quiet; the events `sb` reported."""
    events: list[Any] = []
    while True:
        to_b, to_a = sa.data_to_send(now), sb.data_to_send(now)
        if not to_b and not to_a:
            return events
        for frame in to_b:
            events += sb.receive_data(frame, now)
        for frame in to_a:
            sa.receive_data(frame, now)


async def test_shared_presence_reaches_the_peer_latest_per_client_and_is_never_stored() -> None:
    a, b = Replica("a"), Replica("b")
    sa = PeerSession(a, nonce=b"a" * 16, ordered=True)
    sb = PeerSession(b, nonce=b"b" * 16, ordered=True)
    assert PeerReady in [type(e) for e in pump(sa, sb, 0.0)]
    sa.share_presence({"notes": [E(7, 1, {"user": "ann"})]})
    sa.share_presence({"notes": [E(7, 2, {"user": "ann", "cursor": 4})], "todo": [E(9, 5, None)]})
    sa.share_presence({"notes": [E(7, 1, {"user": "stale"})]})  # older: does not replace
    assert sa.wants_to_send()
    assert pump(sa, sb, 1.0) == [
        PresenceReceived(
            {"notes": [E(7, 2, {"user": "ann", "cursor": 4})], "todo": [E(9, 5, None)]}
        )
    ]
    assert not sa.wants_to_send()
    assert a.buffer.sequence == b.buffer.sequence == 0 and a.names() == b.names() == []


async def test_presence_shared_before_the_session_opens_is_dropped() -> None:
    session = PeerSession(Replica("a"), nonce=b"a" * 16)
    session.share_presence({"notes": [E(7, 1, {"user": "ann"})]})
    frames = [decode_message(f) for f in session.data_to_send(0.0)]
    assert [type(m) for m in frames] == [Hello]


def test_the_outbox_splits_frames_by_size_and_count() -> None:
    outbox = PresenceOutbox()
    state = {"pad": "x" * 1000}
    outbox.add({"notes": [E(c, 1, state) for c in range(MAX_PRESENCE_ENTRIES + 10)]})
    frames = outbox.drain(max_frame_bytes=100_000)
    assert sum(len(f.entries) for f in frames) == MAX_PRESENCE_ENTRIES + 10
    assert all(len(encode_message(f)) <= 100_000 for f in frames)
    assert not outbox


# -- the table: what is news ------------------------------------------------------------------


def test_only_newer_clocks_are_applied_and_so_relayed() -> None:
    table = PresenceTable()
    assert table.apply("notes", [E(7, 2, {"u": 1})], source="a", now=0) == [E(7, 2, {"u": 1})]
    # the same entry again (it came round another path), and an older one: no news
    assert table.apply("notes", [E(7, 2, {"u": 1})], source="c", now=1) == []
    assert table.apply("notes", [E(7, 1, {"u": 0})], source="c", now=1) == []
    assert table.states("notes") == {7: {"u": 1}}
    assert table.apply("notes", [E(7, 3, {"u": 2})], source="c", now=2) == [E(7, 3, {"u": 2})]


def test_a_removal_is_news_once_and_older_states_do_not_bring_the_client_back() -> None:
    table = PresenceTable()
    table.apply("notes", [E(7, 2, {"u": 1})], source="a", now=0)
    assert table.apply("notes", [E(7, 3, None)], source="a", now=1) == [E(7, 3, None)]
    assert table.apply("notes", [E(7, 3, None)], source="c", now=1) == []
    assert table.apply("notes", [E(7, 2, {"u": 1})], source="c", now=1) == []
    assert table.states("notes") == {}


def test_a_local_client_leaving_bumps_its_clock() -> None:
    table = PresenceTable()
    table.apply("notes", [E(7, 2, {"u": 1}), E(8, 1, {"u": 2})], source=None, now=0)
    assert table.remove("notes", {7, 99}, now=1) == [E(7, 3, None)]
    assert table.states("notes") == {8: {"u": 2}}


def test_entries_that_could_not_be_relayed_are_refused() -> None:
    table = PresenceTable()
    with pytest.raises(ProtocolError, match="out of range"):
        table.apply("notes", [E(2**60, 1, {"u": 1})], source=None, now=0)
    with pytest.raises(ProtocolError, match="too large"):
        table.apply("notes", [E(7, 1, {"u": "x" * MAX_PRESENCE_STATE})], source=None, now=0)
    with pytest.raises(ProtocolError, match="cannot be encoded"):
        table.apply("notes", [E(7, 1, {"u": float("nan")})], source=None, now=0)
    assert len(table) == 0


def test_the_table_tracks_a_bounded_number_of_clients() -> None:
    table = PresenceTable(max_clients=2)
    table.apply("notes", [E(1, 1, {}), E(2, 1, {}), E(3, 1, {})], source="a", now=0)
    assert set(table.states("notes")) == {1, 2}
    assert table.apply("todo", [E(4, 1, {}), E(1, 2, {})], source="a", now=0) == []
    assert table.apply("notes", [E(2, 2, {"u": 1})], source="a", now=0)  # known: still news


def test_the_table_holds_a_bounded_size_of_states() -> None:
    table = PresenceTable(max_bytes=100)
    table.apply("notes", [E(1, 1, {"u": "x" * 40})], source="a", now=0)  # 48 characters
    assert table.bytes == 48
    assert table.apply("notes", [E(2, 1, {"u": "y" * 60})], source="a", now=0) == []
    assert table.apply("notes", [E(1, 2, {"u": "x" * 80})], source="a", now=0)  # grows to 88
    assert table.apply("notes", [E(1, 3, None)], source="a", now=1) and table.bytes == 0
    assert table.apply("notes", [E(2, 1, {"u": "y" * 60})], source="a", now=1)  # room again
    assert table.expire(31) == {"notes": [E(2, 1, None)]} and table.bytes == 0


# -- the table: expiry ------------------------------------------------------------------------


def test_peers_entries_expire_without_renewal_and_local_ones_do_not() -> None:
    table = PresenceTable(timeout=30)
    table.apply("notes", [E(7, 2, {"u": 1})], source="a", now=0)
    table.apply("notes", [E(8, 1, {"u": 2})], source=None, now=0)
    table.apply("notes", [E(9, 4, {"u": 3})], source="a", now=0)
    table.apply("notes", [E(9, 5, {"u": 3})], source="a", now=20)  # renewed (clock bumped)
    assert table.next_expiry() == 30
    assert table.expire(29.9) == {}
    # expired as y-protocols announces a timeout: the same clock, state null
    assert table.expire(30) == {"notes": [E(7, 2, None)]}
    assert set(table.states("notes")) == {8, 9}
    assert table.expire(50) == {"notes": [E(9, 5, None)]}
    assert table.states("notes") == {8: {"u": 2}}
    # the renewal after an expiry (the next clock) is news again; an old copy is not
    assert table.apply("notes", [E(7, 2, {"u": 1})], source="c", now=51) == []
    assert table.apply("notes", [E(7, 3, {"u": 1})], source="c", now=51) == [E(7, 3, {"u": 1})]


def test_removals_are_forgotten_a_timeout_later() -> None:
    table = PresenceTable(timeout=30)
    table.apply("notes", [E(7, 2, None)], source="a", now=0)
    assert len(table) == 1 and table.next_expiry() == 30
    assert table.expire(30) == {}  # nothing to tell anyone: it was gone already
    assert len(table) == 0 and table.next_expiry() is None
    assert table.snapshot() == {}
