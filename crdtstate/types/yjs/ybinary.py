"""The few pieces of the Yjs (lib0, update v1) binary format crdtstate reads itself.

pycrdt applies and produces updates; we parse only what it does not expose in a checkable form:
variable-length unsigned integers, state vectors and delete sets. Every reader is bounded and
raises `DecodeError` on malformed input, because these bytes come from peers and Yjs clients.
A delete set is kept canonical (clients sorted, ranges sorted and merged) so that two replicas
with the same deletions compare and hash equal whatever order they learnt them in.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping

from ...errors import DecodeError

MAX_VARUINT = (1 << 64) - 1
EMPTY_UPDATE = b"\x00\x00"  # no structs, no deletions
EMPTY_DELETE_SET = b"\x00"  # no clients

StateVector = dict[int, int]  # client id -> number of structs seen (next clock)
DeleteSet = dict[int, list[tuple[int, int]]]  # client id -> sorted, merged (clock, length)


def write_varuint(n: int) -> bytes:
    if n < 0 or n > MAX_VARUINT:
        raise ValueError(f"{n} does not fit a varuint")
    out = bytearray()
    while n > 127:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


class Reader:
    """A cursor over bytes that refuses to read past the end or overlong integers."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def varuint(self) -> int:
        n = shift = 0
        while True:
            if self.pos >= len(self.data):
                raise DecodeError("truncated varuint")
            byte = self.data[self.pos]
            self.pos += 1
            n |= (byte & 0x7F) << shift
            if byte < 0x80:
                return n
            shift += 7
            if shift >= 64:
                raise DecodeError("varuint longer than 64 bits")

    def bytes_(self) -> bytes:
        """A varuint length, then that many bytes (lib0 `writeVarUint8Array`)."""
        n = self.varuint()
        if n > len(self.data) - self.pos:
            raise DecodeError(f"a {n} byte field overruns the message")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return bytes(chunk)

    def string(self) -> str:
        try:
            return self.bytes_().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("a string is not valid UTF-8") from exc

    def count(self, item_bytes: int = 1) -> int:
        """A varuint count of items of at least `item_bytes` bytes each, checked to fit."""
        n = self.varuint()
        if n * item_bytes > len(self.data) - self.pos:
            raise DecodeError(f"a count of {n} overruns the message")
        return n

    def at_end(self) -> bool:
        return self.pos >= len(self.data)


def encode_state_vector(state: Mapping[int, int]) -> bytes:
    parts = [write_varuint(len(state))]
    for client in sorted(state):
        parts += [write_varuint(client), write_varuint(state[client])]
    return b"".join(parts)


def read_state_vector(data: bytes) -> StateVector:
    r = Reader(data)
    state: StateVector = {}
    for _ in range(r.count(2)):
        client = r.varuint()
        if client in state:
            raise DecodeError("a state vector repeats a client")
        state[client] = r.varuint()
    if not r.at_end():
        raise DecodeError("trailing bytes after a state vector")
    return state


def covers(theirs: Mapping[int, int], mine: Mapping[int, int]) -> bool:
    """True when `theirs` has seen every struct `mine` has."""
    return all(theirs.get(client, 0) >= clock for client, clock in mine.items())


def read_delete_set(r: Reader) -> DeleteSet:
    ds: DeleteSet = {}
    for _ in range(r.count(2)):
        client = r.varuint()
        ranges = ds.setdefault(client, [])
        for _ in range(r.count(2)):
            clock, length = r.varuint(), r.varuint()
            if length:
                ranges.append((clock, length))
    return {c: _merged(rs) for c, rs in ds.items() if rs}


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for clock, length in sorted(ranges):
        if out and clock <= out[-1][0] + out[-1][1]:
            start, prev = out[-1]
            out[-1] = (start, max(prev, clock + length - start))
        else:
            out.append((clock, length))
    return out


def union(into: DeleteSet, other: DeleteSet) -> None:
    """Add `other`'s ranges to `into` in place: O(log n) to find each, not a re-sort."""
    for client, ranges in other.items():
        mine = into.setdefault(client, [])
        for clock, length in ranges:
            _add(mine, clock, length)


def _add(ranges: list[tuple[int, int]], clock: int, length: int) -> None:
    start, end = clock, clock + length
    i = bisect.bisect_left(ranges, (start, 0))
    if i > 0 and sum(ranges[i - 1]) >= start:
        i -= 1
        start, end = ranges[i][0], max(end, sum(ranges[i]))
    j = i
    while j < len(ranges) and ranges[j][0] <= end:
        end = max(end, sum(ranges[j]))
        j += 1
    ranges[i:j] = [(start, end - start)]


def minus(ds: DeleteSet, known: DeleteSet) -> DeleteSet:
    """The ranges of `ds` not covered by `known` (both canonical); bisects into `known`."""
    out: DeleteSet = {}
    for client, ranges in ds.items():
        have = known.get(client, [])
        rest: list[tuple[int, int]] = []
        for clock, length in ranges:
            start, end = clock, clock + length
            k = max(0, bisect.bisect_right(have, (start, MAX_VARUINT)) - 1)
            while k < len(have) and start < end and have[k][0] < end:
                k_start, k_end = have[k][0], sum(have[k])
                if k_end > start:
                    if k_start > start:
                        rest.append((start, k_start - start))
                    start = max(start, k_end)
                k += 1
            if start < end:
                rest.append((start, end - start))
        if rest:
            out[client] = rest
    return out


def encode_delete_set(ds: DeleteSet) -> bytes:
    parts = [write_varuint(len(ds))]
    for client in sorted(ds):
        ranges = ds[client]
        parts += [write_varuint(client), write_varuint(len(ranges))]
        for clock, length in ranges:
            parts += [write_varuint(clock), write_varuint(length)]
    return b"".join(parts)


def deletions_only(update: bytes) -> DeleteSet | None:
    """The delete set of an update that carries no structs, or None if it carries structs."""
    r = Reader(update)
    if r.count(1):
        return None
    ds = read_delete_set(r)
    if not r.at_end():
        raise DecodeError("trailing bytes after an update")
    return ds


def delete_set_update(ds: DeleteSet) -> bytes:
    """An update made only of the deletions `ds`."""
    return b"\x00" + encode_delete_set(ds)


def fingerprint(ds: DeleteSet) -> bytes:
    """16 bytes that are equal exactly when (with overwhelming probability) delete sets are."""
    return hashlib.blake2b(encode_delete_set(ds), digest_size=16).digest()
