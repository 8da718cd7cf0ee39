"""The driver's duties on what a session received, written once for every driver.

A `DeltasReceived` is joined into the replica (`apply(deltas, origin=peer)`) and only then
acknowledged; a join refused with `ProtocolError` (a kind conflict) aborts the session, whose
`SessionClosed` joins the events. The websocket driver applies with an `await` (a durable
replica journals first); the simulator and the session tests apply synchronously: both run the
same generator, `duties`, through `deliver` or `deliver_async`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Iterable
from typing import Any

from crdtstate.errors import ProtocolError

from .events import DeltasReceived, Event
from .session import PeerSession

Apply = Callable[[dict[str, Any], str], Any]


def duties(
    session: PeerSession, events: Iterable[Event]
) -> Generator[DeltasReceived, ProtocolError | None, list[Event]]:
    """Yields each `DeltasReceived` to be applied; is sent None once it is, or the
    `ProtocolError` that refused it. Returns the events, with the abort's `SessionClosed`."""
    handled: list[Event] = []
    for event in events:
        handled.append(event)
        if isinstance(event, DeltasReceived):
            refused = yield event
            if refused is not None:
                handled.append(session.abort(refused.reason))
                break
            session.acknowledge(event.upto)
    return handled


def deliver(session: PeerSession, events: Iterable[Event], apply: Apply) -> list[Event]:
    """Carry out the duties with a synchronous `apply(deltas, origin)`."""
    steps = duties(session, events)
    outcome: ProtocolError | None = None
    try:
        while True:
            received = steps.send(outcome)
            outcome = _applied(apply, received, session)
    except StopIteration as done:
        return done.value


async def deliver_async(
    session: PeerSession, events: Iterable[Event], apply: Callable[..., Awaitable[Any]]
) -> list[Event]:
    """Carry out the duties with an asynchronous `apply(deltas, origin)`."""
    steps = duties(session, events)
    outcome: ProtocolError | None = None
    try:
        while True:
            received = steps.send(outcome)
            try:
                await apply(received.deltas, session.peer or "?")
                outcome = None
            except ProtocolError as exc:
                outcome = exc
    except StopIteration as done:
        return done.value


def _applied(apply: Apply, received: DeltasReceived, session: PeerSession) -> ProtocolError | None:
    try:
        apply(received.deltas, session.peer or "?")
    except ProtocolError as exc:
        return exc
    return None
