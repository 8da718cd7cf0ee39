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


class ValueSpec:
    """The declared type of register and map values, validated by pydantic.

    Undeclared (`Any`) values must be plain msgpack data; they are stored in the form a peer
    decodes (tuples become lists), so every replica holds equal values. Declared values are
    validated on assignment and on decoding, and travel as their JSON-mode dump.
    """

    __slots__ = ("_adapter", "type")

    def __init__(self, tp: Any = Any) -> None:
        self.type = tp
        self._adapter = None if tp is Any else _adapter(tp)

    @property
    def name(self) -> str:
        return type_name(self.type)

    def check(self, value: Any) -> Any:
        """`value` as it will be stored, or `InvalidValueError`."""
        try:
            raw = self.to_wire(value if self._adapter is None else self._validate(value))
            plain = msgpack.unpackb(msgpack.packb(raw, use_bin_type=True), raw=False)
        except InvalidValueError:
            raise
        except Exception as exc:  # msgpack and pydantic serialisation errors
            raise InvalidValueError(f"value {value!r} cannot be stored: {exc}") from exc
        return plain if self._adapter is None else self._validate(plain)

    def _validate(self, value: Any) -> Any:
        from pydantic import ValidationError

        try:
            return self._adapter.validate_python(value)  # type: ignore[union-attr]
        except ValidationError as exc:
            raise InvalidValueError(f"not a valid {self.name}: {exc}") from exc

    def to_wire(self, value: Any) -> Any:
        if self._adapter is None:
            return value
        return self._adapter.dump_python(value, mode="json")

    def from_wire(self, obj: Any) -> Any:
        if self._adapter is None:
            return obj
        try:
            return self._validate(obj)
        except InvalidValueError as exc:
            raise DecodeError(str(exc)) from exc


class KeySpec(ValueSpec):
    """The declared type of map keys: an element, validated strictly when declared."""

    __slots__ = ()

    def check(self, value: Any) -> Any:
        check_element(value)
        if self._adapter is not None:
            from pydantic import ValidationError

            try:
                self._adapter.validate_python(value, strict=True)
            except ValidationError as exc:
                raise InvalidValueError(f"map key {value!r} is not a {self.name}") from exc
        return value

    def from_wire(self, obj: Any) -> Any:
        key = element_from_wire(obj)
        try:
            return self.check(key)
        except InvalidValueError as exc:
            raise DecodeError(str(exc)) from exc


def _adapter(tp: Any) -> Any:
    from pydantic import PydanticSchemaGenerationError, TypeAdapter

    try:
        return TypeAdapter(tp)
    except (PydanticSchemaGenerationError, TypeError) as exc:
        raise InvalidValueError(f"{tp!r} cannot be a declared value type: {exc}") from exc


def type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp).replace("typing.", "")
