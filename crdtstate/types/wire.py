"""Validation of decoded msgpack structures: every check raises `DecodeError`, nothing else.

Types build their `from_wire` on these helpers so that bytes from a peer or a file can never
raise an unexpected exception or smuggle an unhashable or oversized value into a state.
"""

from __future__ import annotations

from typing import Any

from ..errors import DecodeError
from .clocks import CausalContext, Dot, VersionVector

MAX_COUNTER = 2**63 - 1
# A replica id is at most 256 characters; an in-memory replica's writer name (the name in
# its dots and counter entries) adds "~" and 8 letters.
MAX_REPLICA_ID = 256 + 9
MAX_CLOUD_RANGES = 1_000_000


def expect_list(obj: Any, what: str, *, length: int | None = None) -> list[Any]:
    if not isinstance(obj, list):
        raise DecodeError(f"{what}: expected a list, got {type(obj).__name__}")
    if length is not None and len(obj) != length:
        raise DecodeError(f"{what}: expected {length} items, got {len(obj)}")
    return obj


def expect_dict(obj: Any, what: str) -> dict[Any, Any]:
    if not isinstance(obj, dict):
        raise DecodeError(f"{what}: expected a map, got {type(obj).__name__}")
    return obj


def expect_str(obj: Any, what: str, *, max_len: int | None = None) -> str:
    if not isinstance(obj, str):
        raise DecodeError(f"{what}: expected a string, got {type(obj).__name__}")
    if max_len is not None and len(obj) > max_len:
        raise DecodeError(f"{what}: longer than {max_len} characters")
    return obj


def expect_count(obj: Any, what: str, *, minimum: int = 0) -> int:
    """A non-negative integer (bool excluded) that fits a signed 64-bit counter."""
    if not isinstance(obj, int) or isinstance(obj, bool):
        raise DecodeError(f"{what}: expected an integer, got {type(obj).__name__}")
    if not minimum <= obj <= MAX_COUNTER:
        raise DecodeError(f"{what}: {obj} is out of range")
    return obj


def replica_id(obj: Any, what: str = "replica id") -> str:
    rid = expect_str(obj, what, max_len=MAX_REPLICA_ID)
    if not rid:
        raise DecodeError(f"{what}: empty")
    return rid


def dot(obj: Any, what: str = "dot") -> Dot:
    pair = expect_list(obj, what, length=2)
    return Dot(replica_id(pair[0], what), expect_count(pair[1], what, minimum=1))


def counts(obj: Any, what: str) -> dict[str, int]:
    """A map replica id -> positive count (version vectors, counters)."""
    return {
        replica_id(r, what): expect_count(n, what, minimum=1)
        for r, n in expect_dict(obj, what).items()
    }


def version_vector(obj: Any, what: str = "version vector") -> VersionVector:
    return VersionVector(counts(obj, what))


def causal_context(obj: Any, what: str = "causal context") -> CausalContext:
    """[{replica: prefix}, [[replica, first, last], ...]], ranges in any order."""
    vector_part, cloud_part = expect_list(obj, what, length=2)
    cloud = expect_list(cloud_part, what)
    if len(cloud) > MAX_CLOUD_RANGES:
        raise DecodeError(f"{what}: more than {MAX_CLOUD_RANGES} ranges")
    ctx = CausalContext(counts(vector_part, what))
    for item in cloud:
        replica, first, last = expect_list(item, what, length=3)
        lo, hi = expect_count(first, what, minimum=1), expect_count(last, what, minimum=1)
        if lo > hi:
            raise DecodeError(f"{what}: range {lo}..{hi} is empty")
        ctx.add_range(replica_id(replica, what), lo, hi)
    return ctx
