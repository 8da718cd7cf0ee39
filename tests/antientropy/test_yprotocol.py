"""The y-protocols codec and awareness table, without any I/O."""

from __future__ import annotations

import pytest

from antientropy import yprotocol as yp
from crdtstate.errors import ProtocolError


def test_sync_frames_round_trip() -> None:
    assert yp.decode_frame(yp.sync_step1(b"\x01\x07\x03")) == yp.SyncStep1(b"\x01\x07\x03")
    assert yp.decode_frame(yp.sync_step2(b"\x00\x00")) == yp.SyncStep2(b"\x00\x00")
    assert yp.decode_frame(yp.sync_update(b"\x00\x00")) == yp.SyncUpdate(b"\x00\x00")
    assert yp.decode_frame(b"\x03") == yp.QueryAwareness()


@pytest.mark.parametrize(
    "frame",
    [b"", b"\x00", b"\x00\x05\x00", b"\x00\x00\x05ab", b"\x09", b"\x00\x00\x01\x05", b"\x01\x02"],
)
def test_malformed_frames_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        yp.decode_frame(frame)


def test_awareness_joins_by_clock_and_removes_leavers() -> None:
    room = yp.Awareness()
    frame = yp.awareness_frame([yp.AwarenessEntry(7, 1, {"user": "ann"})])
    message = yp.decode_frame(frame)
    assert isinstance(message, yp.AwarenessUpdate)
    assert room.apply(message.entries) == list(message.entries)
    assert room.apply(message.entries) == []  # an old clock changes nothing
    assert room.apply((yp.AwarenessEntry(7, 0, {"user": "old"}),)) == []
    assert room.states == {7: {"user": "ann"}}
    gone = room.remove({7})
    assert gone == [yp.AwarenessEntry(7, 2, None)] and room.states == {}
    assert yp.decode_frame(yp.awareness_frame(gone)) == yp.AwarenessUpdate(tuple(gone))


def test_awareness_states_must_be_json_objects() -> None:
    body = b"\x01\x07\x01\x03[1]"
    with pytest.raises(ProtocolError):
        yp.decode_frame(b"\x01" + bytes([len(body)]) + body)
