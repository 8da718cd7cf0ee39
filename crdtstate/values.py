"""What may be stored as a set element or map key, and a canonical order for encoding."""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import DecodeError, InvalidValueError

Element = str | bytes | int | float | bool | None | tuple["Element", ...]
MAX_ELEMENT_DEPTH = 8
_SCALARS = (str, bytes, int, float, bool, type(None))


def check_element(value: Any, *, depth: int = 0) -> Element:
    """Return `value` if it can be a set element: hashable, msgpack-encodable, immutable."""
    if isinstance(value, _SCALARS):
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
            raise InvalidValueError(f"integer element {value} does not fit in 64 bits")
        return value
    if isinstance(value, tuple) and depth < MAX_ELEMENT_DEPTH:
        for item in value:
            check_element(item, depth=depth + 1)
        return value
    raise InvalidValueError(
        f"{type(value).__name__} cannot be a set element or map key: "
        "use str, bytes, int, float, bool, None or a tuple of these"
    )


def element_from_wire(obj: Any, *, depth: int = 0) -> Element:
    """Decode an element; msgpack turns tuples into lists, so lists come back as tuples."""
    if isinstance(obj, _SCALARS):
        return obj
    if isinstance(obj, list) and depth < MAX_ELEMENT_DEPTH:
        return tuple(element_from_wire(item, depth=depth + 1) for item in obj)
    raise DecodeError(f"invalid element of type {type(obj).__name__}")


def sort_key(value: Any) -> bytes:
    """A total order over mixed-type elements, so that encodings are canonical."""
    return msgpack.packb(value, use_bin_type=True)
