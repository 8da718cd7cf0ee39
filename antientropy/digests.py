"""The connect-time exchange of a session: what each side sends so the other can serve it.

Each side sends its per-object `Digest` and answers the peer's with a `Delta` of what the peer
lacks, stamped with its current sequence; the answer is where pushes start. Reconnecting to a
peer run seen before is cheaper: instead of a digest, a side sends a `Claim` ("I hold your
groups up to X, you acknowledged mine up to Y", from its `ResumePoint` of the peer), and the
peer, if the claim agrees with its own record (`resume.judge`), answers `Resume(since)` and
pushes from there; otherwise `Resume()` refuses it and the claimant sends its digest. A peer
that opens with a digest, or refuses our claim, does not remember us as we remember it: our
record of it starts over. A lost digest, claim or answer is resent (`retransmit.py`); a resync
(`_resync`) asks the peer for its digest again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from crdtstate import codec
from crdtstate.errors import DecodeError, ProtocolError
from crdtstate.resume_points import ResumePoint, ResumePoints

from .events import SessionStats, SyncSource
from .messages import Claim, Digest, Resume
from .ranges import ReceivedRanges
from .resume import judge
from .window import PushWindow

if TYPE_CHECKING:
    from crdtstate.types import Crdt

log = logging.getLogger(__name__)


class DigestExchange:
    """The connect-time half of `PeerSession` (a mixin: the state lives in the session)."""

    source: SyncSource
    peer: str | None
    peer_incarnation: int | None
    stats: SessionStats
    window: PushWindow
    held: ReceivedRanges
    pulled: bool
    answer_pending: bool
    _awaiting_answer: bool
    _digest_at: float
    _book: ResumePoints | None
    _point: ResumePoint  # ours of the peer's run (a loose one, in no book, without a book)
    _known: bool  # the point was in the book before this session: claims can be judged
    _claim: Claim | None  # the claim we sent
    _claim_out: bool  # ... and no verdict on it yet
    _verdict: tuple[Claim, Resume] | None  # the peer's claim and our verdict on it
    _peer_opened: bool  # the peer's first digest or claim arrived
    _sent_max: int  # the highest of our sequences a range we sent the peer reached

    if TYPE_CHECKING:  # provided by PeerSession

        def _queue(self, message: Any) -> bytes: ...

        def _queue_delta(self, deltas: dict[str, Crdt], since: int | None, upto: int) -> None: ...

    def _init_exchange(self) -> None:
        self._point = ResumePoint("", 0)  # replaced once the peer is identified
        self._known = self._claim_out = self._peer_opened = False
        self._claim = None
        self._verdict = None
        self._sent_max = 0

    def _start_exchange(self, now: float) -> None:
        """The session opened: claim where we were with this run of the peer, or send our
        digest."""
        assert self.peer is not None and self.peer_incarnation is not None
        if self._book is not None:
            self._point, self._known = self._book.open(self.peer, self.peer_incarnation)
        else:
            self._point = ResumePoint(self.peer, self.peer_incarnation)
        if not self._known:
            self._send_digest(reply=False, now=now)
            return
        point = self._point
        self._claim = Claim(incarnation=point.incarnation, held=point.held, acked=point.acked)
        self._claim_out = self._awaiting_answer = True
        self._digest_at = now
        self._queue(self._claim)

    def _pull_again(self, now: float) -> None:
        """Resend what asks the peer to serve us (its answer or verdict was lost)."""
        if self._claim_out and self._claim is not None:
            self._digest_at = now
            self._queue(self._claim)
        else:
            self._send_digest(reply=not self.window.serving, now=now)

    def _send_digest(self, *, reply: bool, now: float) -> None:
        objects = {
            name: (kind, codec.digest_to_wire(kind, digest))
            for name, (kind, digest) in self.source.object_digests().items()
        }
        self._digest_at = now
        self._awaiting_answer = True
        self._queue(Digest(objects=objects, reply=reply))

    def _on_digest(self, message: Digest, now: float) -> None:
        if not self._peer_opened:
            self._peer_opened = True
            self._restart_point()  # it opened with a digest: it does not remember us
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

    def _on_claim(self, claim: Claim, now: float) -> None:
        self._peer_opened = True
        if self._verdict is not None:
            if claim != self._verdict[0]:
                raise ProtocolError("a second, different claim within one session")
            self._queue(self._verdict[1])  # a resent claim: our verdict was lost
            return
        point = self._point if self._known else None
        start = judge(claim, point, self.source.incarnation, self.source.can_serve)
        if isinstance(start, str):
            log.info("%s: refusing %s's claim: %s", self.source.id, self.peer, start)
            self.stats.claims_refused += 1
            self._restart_point()
            verdict = Resume()
        else:
            self.stats.claims_accepted += 1
            self.window.resumed(start, now)
            self._sent_max = max(self._sent_max, start)
            self._point.note(known_held=start, sent=start)
            verdict = Resume(since=start)
        self._verdict = (claim, verdict)
        self._queue(verdict)

    def _on_resume(self, verdict: Resume, now: float) -> None:
        if self._claim is None:
            raise ProtocolError("unexpected resume: no claim was made")
        if not self._claim_out:
            self.stats.ignored += 1  # a duplicate of a verdict already acted on
            return
        self._claim_out = False
        if verdict.since is None:
            self._restart_point()
            self._send_digest(reply=False, now=now)
            return
        if verdict.since < self._claim.held:
            raise ProtocolError(f"resume at {verdict.since}, below our claim {self._claim.held}")
        self.held.add(0, verdict.since)
        self._point.note(held=self.held.upto)
        self.pulled = True
        self._awaiting_answer = False

    def _restart_point(self) -> None:
        """Our record of the peer starts over, from what this session itself learned."""
        if self._book is None or not self._known:
            return
        self._point = self._book.restart(self._point)
        self._point.note(
            held=self.held.upto, known_held=self.window.known_held, sent=self._sent_max
        )
