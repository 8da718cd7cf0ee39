"""The connect-time exchange of a session: what each side sends so the other can serve it.

Each side sends its per-object `Digest` and answers the peer's with a `Delta` of what the peer
lacks, stamped with its current sequence; the answer is where pushes start. A lost digest or
answer is resent (`retransmit.py`); a resync (`_resync`) asks the peer for its digest again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crdtstate import codec
from crdtstate.errors import DecodeError, ProtocolError

from .events import SyncSource
from .messages import Digest
from .window import PushWindow

if TYPE_CHECKING:
    from crdtstate.types import Crdt


class DigestExchange:
    """The digest half of `PeerSession` (a mixin: the state lives in the session)."""

    source: SyncSource
    window: PushWindow
    answer_pending: bool
    _awaiting_answer: bool
    _digest_at: float

    if TYPE_CHECKING:  # provided by PeerSession

        def _queue(self, message: Any) -> bytes: ...

        def _queue_delta(self, deltas: dict[str, Crdt], since: int | None, upto: int) -> None: ...

    def _send_digest(self, *, reply: bool, now: float) -> None:
        objects = {
            name: (kind, codec.digest_to_wire(kind, digest))
            for name, (kind, digest) in self.source.object_digests().items()
        }
        self._digest_at = now
        self._awaiting_answer = True
        self._queue(Digest(objects=objects, reply=reply))

    def _on_digest(self, message: Digest, now: float) -> None:
        digests: dict[str, tuple[str, Any]] = {}
        try:
            for name, (kind, raw) in message.objects.items():
                digests[name] = (kind, codec.digest_from_wire(kind, raw))
        except DecodeError as exc:
            raise ProtocolError(f"malformed digest: {exc}") from exc
        upto = self.source.sequence
        self._queue_delta(self.source.deltas_since(digests), None, upto)
        self.answer_pending = True
        self.window.answered_digest(upto, now)
        if message.reply and not self._awaiting_answer:
            # (When ours is still out, its answer is what the peer asked for: both sides
            # starting a resync at once must not make each answer twice.)
            self._send_digest(reply=False, now=now)
