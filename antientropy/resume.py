"""Whether a peer's `Claim` lets us resume pushing to it, and from where.

A claim is accepted only when every part of it agrees with what we remember of this run of the
peer (`crdtstate.resume_points.ResumePoint`): it must be about this run of ours, it may not
claim groups we never sent nor fewer than it acknowledged, nor say we acknowledged more than we
hold, and the buffer must still hold every group it lacks. Anything else (a peer restarted or
restored from an old file, a stale or lying claim, a buffer past its bound) is refused, and the
peer resynchronises by digests: a claim can make us send less, never make the peer miss data.
"""

from __future__ import annotations

from collections.abc import Callable

from crdtstate.resume_points import ResumePoint

from .messages import Claim


def judge(
    claim: Claim,
    point: ResumePoint | None,
    our_incarnation: int,
    can_serve: Callable[[int], bool],
) -> int | str:
    """Where pushes resume (the peer holds every group of ours up to it), or why they don't.

    `point` is our record of the claiming run of the peer, None when we have none."""
    if point is None:
        return "no record of this run of the peer"
    if claim.incarnation != our_incarnation:
        return f"the claim is about run {claim.incarnation} of ours, this is {our_incarnation}"
    if claim.held > point.sent:
        return f"claims our groups up to {claim.held}, we sent up to {point.sent}"
    if claim.held < point.acked:
        return f"claims our groups up to {claim.held}, it acknowledged {point.acked}"
    if claim.acked > point.held:
        return f"says we acknowledged its groups up to {claim.acked}, we hold {point.held}"
    start = max(claim.held, point.known_held)
    if not can_serve(start):
        return f"the groups after {start} are no longer buffered"
    return start
