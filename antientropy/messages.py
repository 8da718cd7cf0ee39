"""The anti-entropy wire messages: msgpack maps validated by pydantic at the boundary.

`decode_message` is the only way bytes from a peer become a message. Anything malformed (bad
msgpack, a wrong schema, an unknown type) raises `ProtocolError` with a reason fit for a bye;
CRDT payloads inside a message are validated later by `crdtstate.codec`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictBytes,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from crdtstate import codec
from crdtstate.errors import DecodeError, ProtocolError
from crdtstate.replica_ids import check_replica_id

# 2: deltas carry their sequence range (since) and may piggyback an ack, so a session survives
# lost, duplicated and reordered frames.
# 6: links (relay avoidance); 5: a reconnect to a peer run seen before resumes (Claim,
# Resume) instead of digests; 4: causal payloads in format 2 (writer tables); 3: the hello
# lists no kinds.
PROTOCOL_VERSION = 6
MAX_NAME = 1024
Sequence = Annotated[StrictInt, Field(ge=0, le=2**63 - 1)]
ReplicaId = Annotated[StrictStr, AfterValidator(check_replica_id)]  # the rule of local ids
Name = Annotated[StrictStr, Field(max_length=MAX_NAME)]
Kind = Annotated[StrictStr, Field(max_length=64)]
MAX_CLOCK = 2**53 - 1  # Yjs client ids and awareness clocks are JavaScript numbers
MAX_PRESENCE_ENTRIES = 1000
MAX_PRESENCE_STATE = 64 * 1024  # characters of JSON per awareness state
Clock = Annotated[StrictInt, Field(ge=0, le=MAX_CLOCK)]
PresenceState = Annotated[StrictStr, Field(max_length=MAX_PRESENCE_STATE)]


class _Message(BaseModel):
    """Frequent frames use one-letter keys on the wire (aliases): at one small delta per
    second, the keys would otherwise be most of the frame. Full names are accepted too."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Hello(_Message):
    """First frame each way: who we are, which protocol, and a nonce for authentication."""

    type: Literal["hello"] = Field("hello", alias="t")
    protocol: StrictInt
    replica: ReplicaId
    incarnation: Sequence
    nonce: Annotated[StrictBytes, Field(min_length=16, max_length=64)]


class Auth(_Message):
    """Proof that the sender knows the shared secret, bound to both nonces and both ids."""

    type: Literal["auth"] = Field("auth", alias="t")
    proof: Annotated[StrictBytes, Field(min_length=32, max_length=32)]


class Digest(_Message):
    """Per object (kind, digest); the receiver answers with a `Delta` of what we lack.

    With `reply` set, the receiver also sends its own digest so that we can serve it.
    """

    type: Literal["digest"] = Field("digest", alias="t")
    objects: dict[Name, tuple[Kind, Any]] = Field(alias="o")
    reply: StrictBool = Field(False, alias="r")


class Claim(_Message):
    """Sent instead of a `Digest` to a peer run we synced with before: we hold every group of
    yours up to `held` (of your run `incarnation`) and you acknowledged ours up to `acked`,
    so serve us from `held`. The peer answers with a `Resume`."""

    type: Literal["claim"] = Field("claim", alias="t")
    incarnation: Sequence = Field(alias="i")
    held: Sequence = Field(alias="h")
    acked: Sequence = Field(alias="a")


class Resume(_Message):
    """The verdict on a `Claim`: pushes continue after `since` (the claimant holds every group
    of ours up to it); without `since`, refused: the claimant sends its digest instead."""

    type: Literal["resume"] = Field("resume", alias="t")
    since: Sequence | None = Field(None, alias="s")


class Delta(_Message):
    """Deltas covering the sender's groups in (since, upto]: entries (name, kind, payload).

    Without `since` it answers the receiver's digest and covers every group up to `upto`.
    `ack`, when present, acknowledges the receiver's groups as an `Ack` would (piggybacked).
    """

    type: Literal["delta"] = Field("delta", alias="t")
    upto: Sequence = Field(alias="u")
    entries: list[tuple[Name, Kind, Any]] = Field(alias="e")
    since: Sequence | None = Field(None, alias="s")
    ack: Sequence | None = Field(None, alias="a")

    @model_validator(mode="after")
    def _range_is_forward(self) -> Delta:
        # An empty range (since == upto) claims no group: the leading parts of a split delta.
        if self.since is not None and self.since > self.upto:
            raise ValueError("since must not be above upto")
        return self


class Ack(_Message):
    """The receiver holds every group of ours up to `upto`."""

    type: Literal["ack"] = Field("ack", alias="t")
    upto: Sequence = Field(alias="u")


class Presence(_Message):
    """Yjs awareness entries (room, client id, clock, JSON state or None once the client
    left). Ephemeral: relayed between replicas, never stored; `antientropy.presence` reads
    the states."""

    type: Literal["presence"] = Field("presence", alias="t")
    entries: Annotated[
        list[tuple[Name, Clock, Clock, PresenceState | None]],
        Field(min_length=1, max_length=MAX_PRESENCE_ENTRIES),
    ] = Field(alias="e")


MAX_LINKS = 4096


class Links(_Message):
    """The replicas the sender holds an open session with, sent whenever that set changes: a
    peer leaves their groups out of its pushes to us (`antientropy.relays`)."""

    type: Literal["links"] = Field("links", alias="t")
    peers: Annotated[list[ReplicaId], Field(max_length=MAX_LINKS)] = Field(alias="p")


class Bye(_Message):
    type: Literal["bye"] = Field("bye", alias="t")
    reason: Annotated[StrictStr, Field(max_length=1024)]


Message = Annotated[
    Hello | Auth | Digest | Claim | Resume | Delta | Ack | Presence | Links | Bye,
    Field(discriminator="type"),
]
_MESSAGE = TypeAdapter(Message)


def encode_message(message: _Message) -> bytes:
    """msgpack of the message's fields; absent optional fields are left out of the frame."""
    return codec.pack(message.model_dump(by_alias=True, exclude_none=True))


def encode_delta(upto: int, entries: list[Any], since: int | None, ack: int | None) -> bytes:
    """`encode_message(Delta(...))`'s bytes without pydantic: the session builds a Delta per
    push from its own deltas (nothing to validate), and under load pushes are most frames."""
    fields: dict[str, Any] = {"t": "delta", "u": upto, "e": entries}
    if since is not None:
        fields["s"] = since
    if ack is not None:
        fields["a"] = ack
    return codec.pack(fields)


def encode_ack(upto: int) -> bytes:
    """`encode_message(Ack(upto=upto))`'s bytes without pydantic (the other frequent frame)."""
    return codec.pack({"t": "ack", "u": upto})


def decode_message(
    data: bytes,
) -> Hello | Auth | Digest | Claim | Resume | Delta | Ack | Presence | Links | Bye:
    if not isinstance(data, bytes | bytearray):
        raise ProtocolError("text frames are not part of the protocol")
    try:
        raw = codec.unpack(bytes(data))
    except DecodeError as exc:
        raise ProtocolError(f"malformed frame: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProtocolError("malformed frame: expected a map")
    version = raw.get("protocol")
    is_hello = raw.get("t", raw.get("type")) == "hello"
    if is_hello and type(version) is int and version != PROTOCOL_VERSION:
        # another version's hello may have other fields: name the version, not the fields
        raise ProtocolError(f"unsupported protocol version {version} (this is {PROTOCOL_VERSION})")
    try:
        return _MESSAGE.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        what = str(raw.get("t", raw.get("type", "frame")))[:20]
        raise ProtocolError(f"malformed {what}: {where} {first['msg']}") from exc
