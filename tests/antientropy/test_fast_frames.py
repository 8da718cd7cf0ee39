"""The hand-written Delta/Ack encoders agree with the pydantic models, byte for byte."""

from __future__ import annotations

import pytest

from antientropy.messages import (
    MAX_NAME,
    Ack,
    Delta,
    decode_message,
    encode_ack,
    encode_delta,
    encode_message,
)


@pytest.mark.parametrize(
    "message",
    [
        Delta(upto=3, entries=[("a", "awset", [[1], []])], since=1, ack=2),
        Delta(upto=0, entries=[], since=None, ack=None),
        Delta(upto=2**63 - 1, entries=[("x" * MAX_NAME, "k" * 64, b"\x00")], since=5),
        Ack(upto=0),
        Ack(upto=2**63 - 1),
    ],
)
def test_fast_paths_round_trip_like_the_models(message: Delta | Ack) -> None:
    if isinstance(message, Delta):
        fast = encode_delta(message.upto, message.entries, message.since, message.ack)
    else:
        fast = encode_ack(message.upto)
    assert fast == encode_message(message)
    assert decode_message(fast) == message
