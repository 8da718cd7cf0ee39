"""Undoing a failed document updater: rebuild the `Doc` from its update log as it was."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Savepoint

if TYPE_CHECKING:
    from .document import Document


class DocumentSavepoint(Savepoint):
    """Undo a failed updater by rebuilding the `Doc` from the log as it was (see module doc)."""

    __slots__ = ("_document", "_length", "_roots")

    def __init__(self, document: Document) -> None:
        self._document = document
        self._length = len(document._log)
        self._roots = dict(document._roots)

    def restore(self) -> None:
        document = self._document
        document._roots = self._roots
        document._roots_typed = False
        if len(document._log) == self._length and not document._events:
            return  # the updater changed nothing
        del document._log[self._length :]
        document._log_bytes = sum(map(len, document._log))
        document._rebuild()
