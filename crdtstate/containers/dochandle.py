"""What a `Document` updater receives: the document's root types, inside one transaction.

`doc.text("body")`, `doc.array("items")` and `doc.map("meta")` return pycrdt's own `Text`,
`Array` and `Map`, so everything pycrdt offers works; `doc["body"]` returns a root already
declared (here or earlier). Declaring a root records its type on the `Document`, which needs
it to read the root back (Yjs updates do not say which type a root is).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..types.yjs.document import Document
from .handle_registry import Record, register_handle

if TYPE_CHECKING:
    from pycrdt import Array, Map, Text


class DocumentRoots:
    __slots__ = ("_document",)

    def __init__(self, document: Document) -> None:
        self._document = document

    def text(self, name: str) -> Text:
        from pycrdt import Text

        return self._document.root(name, Text)

    def array(self, name: str) -> Array:
        from pycrdt import Array

        return self._document.root(name, Array)

    def map(self, name: str) -> Map:
        from pycrdt import Map

        return self._document.root(name, Map)

    def __getitem__(self, name: str) -> Any:
        cls = self._document.root_type(name)
        if cls is None:
            raise KeyError(name)
        return self._document.root(name, cls)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._document.root_type(name) is not None

    @property
    def value(self) -> Mapping[str, Any]:
        """The roots as plain values, read now (the updater may go on changing them)."""
        return self._document.value

    def __repr__(self) -> str:
        return f"<document roots {sorted(self._document.value)!r}>"


def document_roots(state: Document, replica: str, record: Record) -> DocumentRoots:
    """A document's handle: its roots (`Document.updating` makes the transaction's delta)."""
    return DocumentRoots(state)


register_handle(Document, document_roots)
