"""The wire messages of the anti-entropy protocol (DESIGN §4).

Every message survives `encode_message` / `decode_message` unchanged; `decode_message` is the
boundary where peer bytes become messages, so anything malformed raises `ProtocolError` (with a
reason fit for a bye) and never any other exception.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antientropy import PROTOCOL_VERSION, Ack, Auth, Bye, Delta, Digest, Hello
from antientropy.messages import MAX_NAME, Claim, Resume, decode_message, encode_message
from crdtstate import AWSet, GCounter, PNCounter, codec
from crdtstate.errors import ProtocolError

PROPERTY = settings(max_examples=100, deadline=None)

Message = Hello | Auth | Digest | Claim | Resume | Delta | Ack | Bye

# -- strategies ---------------------------------------------------------------------------------

sequences = st.integers(min_value=0, max_value=2**63 - 1)
# A replica id follows crdtstate.replica_ids' rule: printable, not padded with whitespace.
replica_ids = st.text(min_size=1, max_size=40).filter(lambda s: s.isprintable() and s == s.strip())
kinds = st.text(max_size=64)
names = st.text(max_size=40)

#: What msgpack carries unchanged: lists (not tuples), str keys, no NaN.
plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

# Messages are built from keyword arguments by field name (`populate_by_name`): `st.builds`
# would read the aliased constructor signature (`o`, `u`, `e`...) and guess those fields itself.
hellos = st.fixed_dictionaries(
    {
        "protocol": st.just(PROTOCOL_VERSION),  # other versions: refused by decode_message
        "replica": replica_ids,
        "incarnation": sequences,
        "nonce": st.binary(min_size=16, max_size=64),
    }
).map(lambda kw: Hello(**kw))
auths = st.binary(min_size=32, max_size=32).map(lambda proof: Auth(proof=proof))
digests = st.fixed_dictionaries(
    {
        "objects": st.dictionaries(names, st.tuples(kinds, plain), max_size=5),
        "reply": st.booleans(),
    }
).map(lambda kw: Digest(**kw))


@st.composite
def deltas(draw: st.DrawFn) -> Delta:
    """A delta with or without a range start (below `upto`) and a piggybacked ack."""
    upto = draw(sequences)
    since = draw(st.none() | st.integers(min_value=0, max_value=upto - 1)) if upto else None
    return Delta(
        upto=upto,
        entries=draw(st.lists(st.tuples(names, kinds, plain), max_size=5)),
        since=since,
        ack=draw(st.none() | sequences),
    )


acks = sequences.map(lambda upto: Ack(upto=upto))
byes = st.text(max_size=1024).map(lambda reason: Bye(reason=reason))
messages = st.one_of(hellos, auths, digests, deltas(), acks, byes)


def valid_examples() -> list[Message]:
    """One valid message of each type, with fields at their limits where that is interesting."""
    return [
        Hello(
            protocol=PROTOCOL_VERSION,
            replica="r" * 256,
            incarnation=2**63 - 1,
            nonce=b"n" * 16,
        ),
        Auth(proof=b"p" * 32),
        Digest(objects={"x" * MAX_NAME: ("awset", [{"a": 1}, []])}, reply=True),
        Delta(upto=3, entries=[("c", "pncounter", [{"a": 2}, {}])], since=2, ack=2**63 - 1),
        Ack(upto=0),
        Claim(incarnation=2**63 - 1, held=0, acked=2**63 - 1),
        Resume(since=2**63 - 1),
        Bye(reason="r" * 1024),
    ]


def raw(message: Message) -> dict[str, Any]:
    """The plain map a message travels as."""
    decoded = msgpack.unpackb(encode_message(message), raw=False)
    assert isinstance(decoded, dict)
    return decoded


def wire_key(message: Message, field: str) -> str:
    """The key `field` of `message` travels under (its one-letter alias, if it has one)."""
    return type(message).model_fields[field].alias or field


def assert_protocol_error(data: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_message(data)
    assert isinstance(info.value.reason, str) and info.value.reason
    return info.value


# -- round trips --------------------------------------------------------------------------------


@PROPERTY
@given(messages)
def test_every_message_round_trips(message: Message) -> None:
    """decode(encode(m)) == m, for every message type and any field values the schema allows."""
    decoded = decode_message(encode_message(message))
    assert type(decoded) is type(message)
    assert decoded == message


@pytest.mark.parametrize("message", valid_examples(), ids=lambda m: m.type)
def test_each_type_round_trips_at_its_limits(message: Message) -> None:
    """Each type round-trips, with fields at their maximum allowed size."""
    assert decode_message(encode_message(message)) == message
    assert decode_message(bytearray(encode_message(message))) == message


def test_every_type_is_covered() -> None:
    """The examples above name every message type of the protocol (none forgotten)."""
    assert {m.type for m in valid_examples()} == {
        "hello",
        "auth",
        "digest",
        "claim",
        "resume",
        "delta",
        "ack",
        "bye",
    }


def test_frames_use_one_letter_keys_and_leave_out_absent_optional_fields() -> None:
    """Protocol 2 wire keys: `t` for the type everywhere; digest `o`, `r`; delta `u`, `e`, `s`,
    `a`; ack `u`. Absent optional fields (a delta's `since` and `ack`) are not in the frame."""
    assert PROTOCOL_VERSION == 5
    assert set(raw(Delta(upto=3, entries=[], since=1, ack=2))) == {"t", "u", "e", "s", "a"}
    assert raw(Delta(upto=3, entries=[])) == {"t": "delta", "u": 3, "e": []}
    assert raw(Ack(upto=4)) == {"t": "ack", "u": 4}
    assert raw(Claim(incarnation=1, held=2, acked=3)) == {"t": "claim", "i": 1, "h": 2, "a": 3}
    assert raw(Resume(since=4)) == {"t": "resume", "s": 4}
    assert raw(Resume()) == {"t": "resume"}
    assert raw(Digest(objects={}, reply=True)) == {"t": "digest", "o": {}, "r": True}
    assert raw(Bye(reason="done")) == {"t": "bye", "reason": "done"}
    assert raw(Auth(proof=b"p" * 32)) == {"t": "auth", "proof": b"p" * 32}
    hello = raw(valid_examples()[0])
    assert set(hello) == {"t", "protocol", "replica", "incarnation", "nonce"}
    assert hello["t"] == "hello"


@pytest.mark.parametrize("message", valid_examples(), ids=lambda m: m.type)
def test_full_field_names_are_accepted_too(message: Message) -> None:
    """A frame spelling every field by its full name decodes to the same message."""
    frame = codec.pack(message.model_dump(exclude_none=True))
    assert decode_message(frame) == message


@PROPERTY
@given(
    st.sets(st.integers(0, 50), max_size=20),
    st.sets(st.integers(0, 50), max_size=5),
    st.integers(-5, 5),
)
def test_crdt_payloads_survive_a_round_trip(
    added: set[int], removed: set[int], increment: int
) -> None:
    """Real CRDT deltas and digests inside Delta / Digest decode back to equal states."""
    awset = AWSet.of(sorted(added), replica="a")
    for element in sorted(removed):
        awset.remove(element, replica="b")
    counter = PNCounter()
    counter.increment(increment, replica="a")
    gcounter = GCounter({"a": len(added)})
    states = {"set": awset, "counter": counter, "grow": gcounter}

    delta = Delta(
        upto=7, entries=[(name, s.kind, s.to_wire()) for name, s in sorted(states.items())]
    )
    back = decode_message(encode_message(delta))
    assert isinstance(back, Delta)
    for name, kind, payload in back.entries:
        assert codec.from_wire([codec.FORMAT_VERSION, kind, payload], kind) == states[name]

    digest = Digest(
        objects={
            name: (s.kind, codec.digest_to_wire(s.kind, s.digest())) for name, s in states.items()
        }
    )
    back_digest = decode_message(encode_message(digest))
    assert isinstance(back_digest, Digest)
    for name, (kind, wire_digest) in back_digest.objects.items():
        assert codec.digest_from_wire(kind, wire_digest) == states[name].digest()


# -- malformed frames ---------------------------------------------------------------------------


@PROPERTY
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_protocol_error(data: bytes) -> None:
    """Arbitrary bytes decode to a valid message or raise ProtocolError, nothing else."""
    try:
        message = decode_message(data)
    except ProtocolError as exc:
        assert exc.reason
    else:
        assert decode_message(encode_message(message)) == message


@PROPERTY
@given(st.dictionaries(st.sampled_from(["type", "upto", "reason", "objects", "x"]), plain))
def test_random_maps_never_raise_anything_but_protocol_error(frame: dict[str, Any]) -> None:
    """Well-formed msgpack maps of arbitrary shape are messages or ProtocolErrors."""
    try:
        decode_message(codec.pack(frame))
    except ProtocolError as exc:
        assert exc.reason


@PROPERTY
@given(messages, st.data())
def test_truncated_frames_are_protocol_errors(message: Message, data: st.DataObject) -> None:
    """Any strict prefix of a valid frame is malformed msgpack: a ProtocolError."""
    frame = encode_message(message)
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    assert_protocol_error(frame[:cut])


@pytest.mark.parametrize(
    "value",
    [None, 1, -1, 1.5, True, "hello", b"hello", [], ["type", "ack"], [{"type": "ack", "upto": 1}]],
    ids=repr,
)
def test_a_frame_that_is_not_a_map_is_rejected(value: Any) -> None:
    """A msgpack value other than a map is not a message."""
    error = assert_protocol_error(codec.pack(value))
    assert "map" in error.reason


@pytest.mark.parametrize("key", ["t", "type"])
@pytest.mark.parametrize("kind", ["gossip", "", "HELLO", "Ack", 1, None, b"ack", ["ack"]], ids=repr)
def test_an_unknown_message_type_is_rejected(kind: Any, key: str) -> None:
    """Only the known `type` values (exact spelling, str) select a message."""
    assert_protocol_error(codec.pack({key: kind, "u": 1}))
    assert_protocol_error(codec.pack({key: kind, "upto": 1}))


@pytest.mark.parametrize("frame", [{"upto": 1}, {"u": 1}, {"u": 1, "e": []}], ids=repr)
def test_a_map_without_type_is_rejected(frame: dict[str, Any]) -> None:
    """A map whose fields fit a message but which lacks `t` (`type`) is not a message."""
    assert_protocol_error(codec.pack(frame))


def _required_fields() -> list[tuple[Message, str]]:  # field names; see `wire_key`
    """(message, field) for every field without a default, the discriminator included."""
    cases: list[tuple[Message, str]] = []
    for message in valid_examples():
        for name, info in type(message).model_fields.items():
            if info.is_required() or name == "type":
                cases.append((message, name))
    return cases


@pytest.mark.parametrize(
    ("message", "missing"), _required_fields(), ids=lambda v: v if isinstance(v, str) else v.type
)
def test_a_missing_field_is_rejected(message: Message, missing: str) -> None:
    """Dropping any required field (or `type`) makes the frame malformed."""
    frame = raw(message)
    del frame[wire_key(message, missing)]
    assert_protocol_error(codec.pack(frame))


def test_digest_reply_is_optional() -> None:
    """A digest without `reply` (wire key `r`) means reply=False."""
    frame = raw(Digest(objects={}, reply=True))
    del frame["r"]
    assert decode_message(codec.pack(frame)) == Digest(objects={}, reply=False)


@pytest.mark.parametrize("optional", ["since", "ack"])
def test_delta_since_and_ack_are_optional(optional: str) -> None:
    """A delta without `since` (an answer to a digest) or without a piggybacked `ack` is valid,
    and an explicit nil means the same as leaving the key out."""
    message = Delta(upto=3, entries=[], since=1, ack=2)
    frame = raw(message)
    del frame[wire_key(message, optional)]
    expected = message.model_copy(update={optional: None})
    assert decode_message(codec.pack(frame)) == expected
    frame[wire_key(message, optional)] = None
    assert decode_message(codec.pack(frame)) == expected


@pytest.mark.parametrize("since", [3, 4, 2**63 - 1])
def test_a_delta_range_reaching_past_its_end_is_rejected(since: int) -> None:
    """A range (since, upto] with `since` above `upto` is malformed."""
    frame = raw(Delta(upto=2, entries=[], since=1))
    frame["s"] = since
    assert_protocol_error(codec.pack(frame))


@pytest.mark.parametrize("message", valid_examples(), ids=lambda m: m.type)
@pytest.mark.parametrize("extra", ["extra", "Type", ""])
def test_an_extra_field_is_rejected(message: Message, extra: str) -> None:
    """Unknown fields are not ignored: a frame with one is malformed."""
    frame = raw(message)
    frame[extra] = 1
    assert_protocol_error(codec.pack(frame))


#: (message type, field, a wrong value): wrong types, out-of-range numbers, wrong sizes.
WRONG_FIELDS: list[tuple[str, str, Any]] = [
    ("hello", "protocol", "1"),
    ("hello", "protocol", 1.0),
    ("hello", "protocol", True),
    ("hello", "protocol", None),
    ("hello", "replica", ""),
    ("hello", "replica", "r" * 257),
    ("hello", "replica", " "),
    ("hello", "replica", "a\x00"),
    ("hello", "replica", " a"),
    ("hello", "replica", b"a"),
    ("hello", "replica", 7),
    ("hello", "incarnation", -1),
    ("hello", "incarnation", 2**63),
    ("hello", "incarnation", "3"),
    ("hello", "incarnation", False),
    ("hello", "nonce", b"n" * 15),
    ("hello", "nonce", b"n" * 65),
    ("hello", "nonce", "n" * 16),
    ("hello", "nonce", list(range(16))),
    ("auth", "proof", b"p" * 31),
    ("auth", "proof", b"p" * 33),
    ("auth", "proof", "p" * 32),
    ("auth", "proof", None),
    ("digest", "objects", []),
    ("digest", "objects", {"x": ["awset"]}),
    ("digest", "objects", {"x": ["awset", 1, 2]}),
    ("digest", "objects", {"x": "awset"}),
    ("digest", "objects", {"x": [1, [{}, []]]}),
    ("digest", "objects", {"x": ["k" * 65, [{}, []]]}),
    ("digest", "objects", {"x" * (MAX_NAME + 1): ["awset", [{}, []]]}),
    ("digest", "reply", 1),
    ("digest", "reply", "true"),
    ("digest", "reply", None),
    ("delta", "upto", -1),
    ("delta", "upto", 2**63),
    ("delta", "upto", 1.0),
    ("delta", "upto", "1"),
    ("delta", "upto", True),
    ("delta", "entries", {}),
    ("delta", "entries", [["x", "awset"]]),
    ("delta", "entries", [["x", "awset", 1, 2]]),
    ("delta", "entries", [[1, "awset", []]]),
    ("delta", "entries", [["x", None, []]]),
    ("delta", "entries", [["x" * (MAX_NAME + 1), "awset", []]]),
    ("delta", "entries", [[b"x", "awset", []]]),
    ("delta", "since", -1),
    ("delta", "since", 4),  # beyond upto (3)
    ("delta", "since", 2**63),
    ("delta", "since", 2.0),
    ("delta", "since", "2"),
    ("delta", "since", True),
    ("delta", "ack", -1),
    ("delta", "ack", 2**63),
    ("delta", "ack", 1.0),
    ("delta", "ack", "1"),
    ("delta", "ack", False),
    ("ack", "upto", -1),
    ("ack", "upto", 2**63),
    ("ack", "upto", 2**64 - 1),
    ("ack", "upto", 0.5),
    ("ack", "upto", "7"),
    ("ack", "upto", True),
    ("ack", "upto", None),
    ("bye", "reason", "r" * 1025),
    ("bye", "reason", b"closing"),
    ("bye", "reason", 1),
    ("bye", "reason", None),
    ("bye", "reason", ["closing"]),
]


@pytest.mark.parametrize(("kind", "field", "value"), WRONG_FIELDS, ids=str)
def test_a_wrong_field_value_is_rejected(kind: str, field: str, value: Any) -> None:
    """Fields are strict: no coercion between str/bytes/int/bool, and limits are enforced."""
    (message,) = [m for m in valid_examples() if m.type == kind]
    frame = raw(message)
    key = wire_key(message, field)
    assert key in frame
    frame[key] = value
    assert_protocol_error(codec.pack(frame))


def test_an_oversize_bye_reason_is_rejected_but_the_limit_itself_is_fine() -> None:
    """A bye reason may have 1024 characters, not 1025."""
    assert decode_message(encode_message(Bye(reason="r" * 1024))) == Bye(reason="r" * 1024)
    assert_protocol_error(codec.pack({"type": "bye", "reason": "r" * 1025}))


@pytest.mark.parametrize(
    "data",
    ["", "hello", '{"type": "ack", "upto": 1}', memoryview(b"\x81"), None, 17, [1, 2]],
    ids=repr,
)
def test_a_text_frame_or_non_bytes_is_rejected(data: Any) -> None:
    """Only binary frames are messages: a str (a websocket text frame) is a ProtocolError."""
    assert_protocol_error(data)


def test_text_str_where_bytes_are_expected_is_rejected() -> None:
    """msgpack str for a bytes field (old-style raw) is not coerced: nonce and proof are bin."""
    legacy = msgpack.packb(raw(valid_examples()[0]), use_bin_type=False)
    assert_protocol_error(legacy)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # a byte msgpack never uses
        codec.pack({"type": "ack", "upto": 1}) + b"\x00",  # trailing bytes
        codec.pack({1: "ack"}),  # a non-str map key
        codec.pack({"type": "digest", "objects": {"x": ["awset", {1: 2}]}}),  # nested int key
        b"\x91" * 100_000,  # nested arrays far deeper than any message
        b"\xdd\xff\xff\xff\xff",  # an array claiming 4 billion items
        b"\xc6\xff\xff\xff\xff",  # a bin claiming 4 GiB
    ],
    ids=["empty", "reserved-byte", "trailing", "int-key", "nested-int-key", "deep", "huge", "bin"],
)
def test_malformed_msgpack_is_rejected(data: bytes) -> None:
    """Bad msgpack of every flavour is a ProtocolError, never a msgpack or Python error."""
    assert_protocol_error(data)
