"""What may be stored as a set element or map key, and a canonical order for encoding."""

from __future__ import annotations

from typing import Any

import msgpack

from ..errors import DecodeError, InvalidValueError

Element = str | bytes | int | float | None | tuple["Element", ...]
MAX_ELEMENT_DEPTH = 8
_SCALARS = (str, bytes, int, float, type(None))
# `packb` builds a Packer (and its buffer) per call, a third of a register write's checks.
# Shared only for pydantic's JSON-mode dumps: exact builtins, packed without calling back into
# Python, so a pack never yields the GIL half-way (a Packer is not thread-safe).
_DUMP_PACKER = msgpack.Packer(use_bin_type=True)


def check_element(value: Any, *, depth: int = 0) -> Element:
    """`value` in its canonical form if it can be a set element or map key, else an error.

    Elements are compared as Python compares them, so equal numbers must have one form:
    otherwise two replicas could keep `1` and `1.0` as "the same" element and encode different
    bytes. An integral float becomes an int (`1.0` -> `1`, `-0.0` -> `0`); a bool is refused
    (it equals 0 or 1), and so is NaN (it equals nothing, not even itself).
    """
    if isinstance(value, bool):
        raise InvalidValueError(
            "a bool cannot be a set element or map key: it equals 0 or 1; use an int or a str"
        )
    if isinstance(value, float):
        if value != value:
            raise InvalidValueError("NaN cannot be a set element or map key: it equals nothing")
        if value.is_integer():
            value = int(value)
        else:
            return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise InvalidValueError(f"integer element {value} does not fit in 64 bits")
        return value
    if isinstance(value, str | bytes | type(None)):
        return value
    if isinstance(value, tuple) and depth < MAX_ELEMENT_DEPTH:
        return tuple(check_element(item, depth=depth + 1) for item in value)
    raise InvalidValueError(
        f"{type(value).__name__} cannot be a set element or map key: "
        "use str, bytes, int, float, None or a tuple of these"
    )


def element_from_wire(obj: Any, *, depth: int = 0) -> Element:
    """Decode an element; msgpack turns tuples into lists, so lists come back as tuples.

    Only canonical forms are accepted (see `check_element`): a peer cannot smuggle in `True`
    or `1.0` beside our `1`.
    """
    if isinstance(obj, list) and depth < MAX_ELEMENT_DEPTH:
        return tuple(element_from_wire(item, depth=depth + 1) for item in obj)
    if isinstance(obj, _SCALARS):
        try:
            canonical = check_element(obj, depth=depth)
        except InvalidValueError as exc:
            raise DecodeError(str(exc)) from exc
        if type(canonical) is not type(obj):
            raise DecodeError(f"element {obj!r} is not in canonical form")
        return canonical
    raise DecodeError(f"invalid element of type {type(obj).__name__}")


def sort_key(value: Any) -> bytes:
    """A total order over mixed-type elements, so that encodings are canonical."""
    return msgpack.packb(value, use_bin_type=True)


class ValueSpec:
    """The declared type of register and map values, validated by pydantic.

    Undeclared (`Any`) values must be plain msgpack data; they are stored in the form a peer
    decodes (tuples become lists), so every replica holds equal values. Declared values are
    validated on assignment and on decoding, and travel as their JSON-mode dump.

    Assignment is on every update's path, so it calls pydantic-core's validator and serializer
    directly (the `TypeAdapter` methods add a keyword-heavy call around each).
    """

    __slots__ = ("_adapter", "_dump", "_validator", "type")

    def __init__(self, tp: Any = Any) -> None:
        self.type = tp
        self._adapter = None if tp is Any else _adapter(tp)
        if self._adapter is not None:
            self._validator = self._adapter.validator.validate_python
            self._dump = self._adapter.serializer.to_python

    @property
    def name(self) -> str:
        return type_name(self.type)

    def check(self, value: Any) -> Any:
        """`value` as it will be stored, or `InvalidValueError`.

        Undeclared values go through msgpack and back. A declared value's JSON-mode dump holds
        only str-keyed dicts, lists, str, numbers, bools and None, which msgpack returns
        unchanged: packing it checks that it travels (integers fit in 64 bits), and the stored
        value is validated from it, as a peer decodes it.
        """
        if self._adapter is None:
            try:
                return msgpack.unpackb(msgpack.packb(value, use_bin_type=True), raw=False)
            except Exception as exc:  # msgpack errors
                raise InvalidValueError(f"value {value!r} cannot be stored: {exc}") from exc
        validator = self._validator
        try:
            validated = validator(value)
        except ValueError as exc:  # pydantic_core.ValidationError is a ValueError
            raise InvalidValueError(f"not a valid {self.name}: {exc}") from exc
        except Exception as exc:
            raise InvalidValueError(f"value {value!r} cannot be stored: {exc}") from exc
        try:
            raw = self._dump(validated, mode="json")
            _DUMP_PACKER.pack(raw)
        except Exception as exc:  # msgpack and pydantic serialisation errors
            raise InvalidValueError(f"value {value!r} cannot be stored: {exc}") from exc
        try:
            return validator(raw)
        except ValueError as exc:
            raise InvalidValueError(f"not a valid {self.name}: {exc}") from exc

    def _validate(self, value: Any) -> Any:
        try:
            return self._validator(value)
        except ValueError as exc:  # pydantic_core.ValidationError is a ValueError
            raise InvalidValueError(f"not a valid {self.name}: {exc}") from exc

    def to_wire(self, value: Any) -> Any:
        if self._adapter is None:
            return value
        tp = self.type
        if (tp is int or tp is str or tp is bool) and type(value) is tp:
            return value  # its own JSON-mode dump (every map put of a declared int is encoded)
        return self._dump(value, mode="json")

    def from_wire(self, obj: Any) -> Any:
        if self._adapter is None:
            return obj
        tp = self.type
        if (tp is int or tp is str or tp is bool) and type(obj) is tp:
            return obj  # what validating it gives (every received map write of one is read)
        try:
            return self._validate(obj)
        except InvalidValueError as exc:
            raise DecodeError(str(exc)) from exc


class KeySpec(ValueSpec):
    """The declared type of map keys: an element, validated strictly when declared."""

    __slots__ = ("_any_str",)

    def __init__(self, tp: Any = Any) -> None:
        super().__init__(tp)
        self._any_str = tp is Any or tp is str  # every str is a valid key: the common case

    def check(self, value: Any) -> Any:
        if self._any_str and type(value) is str:
            return value
        value = check_element(value)
        if self._adapter is not None:
            try:
                self._validator(value, strict=True)
            except ValueError as exc:  # pydantic_core.ValidationError is a ValueError
                raise InvalidValueError(f"map key {value!r} is not a {self.name}") from exc
        return value

    def from_wire(self, obj: Any) -> Any:
        if self._any_str and type(obj) is str:
            return obj  # what reading and checking it gives (every received map key)
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
