"""A document's root types (Text, Array, Map by name): declared, inferred, read back.

Yjs updates do not say which type a root is, so a `Document` remembers the type of each root
declared here and infers the type of roots that arrived from peers by what they hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import InvalidValueError

if TYPE_CHECKING:
    from pycrdt import Doc


class RootTypes:
    """The roots half of `Document` (a mixin: the state lives in the document)."""

    __slots__ = ()
    _roots: dict[str, type[Any]]
    _roots_typed: bool

    if TYPE_CHECKING:  # provided by Document

        def _built(self) -> Doc: ...

    def root(self, name: str, cls: type[Any]) -> Any:
        """The root `name` as `cls` (Text, Array or Map), remembered for reading it back."""
        self._roots[check_root_name(name)] = cls
        return self._built().get(name, type=cls)

    def root_type(self, name: str) -> type[Any] | None:
        if name not in self._roots:
            self._infer_roots()
        return self._roots.get(name)

    def _infer_roots(self) -> None:
        """Type the roots that reached us from peers and were never declared here, by what
        they hold: keys make a map, strings a text, other items an array; empty ones wait."""
        from pycrdt import Array, Map, Text

        doc = self._built()
        if self._roots_typed:
            return
        names = list(doc.keys())
        for name in names:
            if name in self._roots:
                continue
            if len(doc.get(name, type=Map)):
                self._roots[name] = Map
            elif any(isinstance(part, str) for part, *_ in doc.get(name, type=Text).diff()):
                self._roots[name] = Text
            elif len(doc.get(name, type=Array)):
                self._roots[name] = Array
        # local updates only add declared roots: until a merge, there is nothing new to type
        self._roots_typed = all(name in self._roots for name in names)

    def read_root(self, name: str, cls: type[Any]) -> Any:
        """Root `name` now, as a plain value: `str` for a text, lists and dicts otherwise."""
        from pycrdt import Text

        root = self._built().get(name, type=cls)
        return str(root) if cls is Text else root.to_py()


def check_root_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidValueError("a document root is named by a non-empty string")
    return name
