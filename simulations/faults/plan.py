"""The seeded schedule of a fault run: which process is killed and which link is cut or stalled,
from when to when. Times are fractions of the run's updates (not seconds), so a seed replays
the same faults at the same points of the workload on a fast machine or a loaded one."""

from __future__ import annotations

import random
from dataclasses import dataclass

REPLICAS = 3
LINKS = ((0, 1), (0, 2), (1, 2))
FIRST, LAST_START, HEALED = 0.05, 0.75, 0.85  # every fault is over by HEALED


@dataclass(frozen=True, slots=True)
class Fault:
    """`kill` SIGKILLs replica `target[0]` at `start` and restarts it at `end`; `cut` closes
    the link `target` (and refuses reconnects) until `end`; `stall` holds its bytes until then."""

    kind: str
    target: tuple[int, ...]
    start: float
    end: float

    def __str__(self) -> str:
        what = f"r{self.target[0]}" if self.kind == "kill" else "r{}-r{}".format(*self.target)
        return f"{self.kind} {what} at {self.start:.0%}..{self.end:.0%}"


def plan_faults(seed: int, kills: int, cuts: int, stalls: int) -> list[Fault]:
    """`kills + cuts + stalls` faults spread over the run, overlapping at times, never two on
    one target at once and never all replicas down; a fault with no free target is dropped."""
    rng = random.Random(seed)
    kinds = ["kill"] * kills + ["cut"] * cuts + ["stall"] * stalls
    rng.shuffle(kinds)
    slot = (LAST_START - FIRST) / max(1, len(kinds))
    faults: list[Fault] = []
    for i, kind in enumerate(kinds):
        start = FIRST + slot * i + rng.uniform(0, slot / 2)
        end = min(HEALED, start + rng.uniform(0.02, 0.10))
        ongoing = [f for f in faults if f.end > start]
        busy = {f.target for f in ongoing}
        if kind == "kill":
            down = sum(f.kind == "kill" for f in ongoing)
            free = [(r,) for r in range(REPLICAS) if (r,) not in busy and down < REPLICAS - 1]
        else:
            free = [link for link in LINKS if link not in busy]
        if free:
            faults.append(Fault(kind, rng.choice(free), start, end))
    return faults
