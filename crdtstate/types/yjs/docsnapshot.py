"""What a `Document`'s `value` is: its roots as plain values, read out of pycrdt lazily."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .document import Document


class DocumentSnapshot(Mapping[str, Any]):
    """A document's roots at one moment, as a read-only mapping of plain values.

    A 100k-character text takes about 0.2 ms to read out of pycrdt, and `update()` returns
    the new value after every transaction, mostly to be ignored. So each root is read on first
    access, and whatever is still unread when the document next changes is read just before
    it does (`freeze`): the values are those of the moment the snapshot was taken, as with
    an eager copy. `dict(snapshot)` gives a plain dict (for `json.dumps`, say).
    """

    __slots__ = ("__weakref__", "_document", "_roots", "_values")

    def __init__(self, document: Document, roots: dict[str, type[Any]]) -> None:
        self._document: Document | None = document
        self._roots = roots
        self._values: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            if self._document is None or name not in self._roots:
                raise
        value = self._values[name] = self._document.read_root(name, self._roots[name])
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._roots)

    def __len__(self) -> int:
        return len(self._roots)

    def freeze(self) -> None:
        """Read every root not read yet; from now on the snapshot holds plain values only."""
        if self._document is not None:
            for name in self._roots:
                self[name]
            self._document = None

    def __repr__(self) -> str:
        return f"DocumentSnapshot({dict(self)!r})"
