"""The exact check of a fault run: every acknowledged update is visible in every replica.

Each kind has an identity for its updates that the final state either shows or does not:

- counter: each process's own GCounter entry. It reads the entry back on every start (`I`
  lines), so per run the increments it returned are known exactly: a restart must come back
  with at least base + returned (at most base + begun), and the last run, which ends without
  a kill, must reach exactly base + returned in every replica.
- set: an element added by a returned update is present unless some process began removing
  it; an element whose removal returned is absent.
- map: a key's owner is one task, so its ops are sequential: the value is the result of the
  last returned op, or of the op after it when that one was begun and cut short by a kill.
- document: a marker token inserted by a returned update is present exactly once (markers
  are never deleted); a filler token is present unless someone began deleting it, and absent
  once a deletion returned. The text must consist of whole tokens, none twice.

An update counts as lost once, however many replicas miss it. Anything that was never
attempted but shows up, or a text that is no longer whole tokens, is an anomaly.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from .ledger import FILLER, KINDS, MARKER, TOKEN_WIDTH, Ledger, MapOp

ABSENT = None


@dataclass(frozen=True)
class FinalState:
    """What one replica's database holds once the run is over."""

    replica: str
    counts: dict[str, int]
    elements: frozenset[str]
    entries: dict[str, int]
    text: str
    digest: str


@dataclass
class Verdict:
    checked: dict[str, int]
    # kind -> id of a lost update -> the replicas that miss it
    lost: dict[str, dict[str, set[str]]] = field(default_factory=lambda: {k: {} for k in KINDS})
    anomalies: list[str] = field(default_factory=list)
    converged: bool = False

    @property
    def lost_total(self) -> int:
        return sum(len(ids) for ids in self.lost.values())

    @property
    def ok(self) -> bool:
        return self.lost_total == 0 and not self.anomalies and self.converged

    def miss(self, kind: str, ident: str, replica: str) -> None:
        self.lost[kind].setdefault(ident, set()).add(replica)

    def examples(self, n: int = 5) -> dict[str, list[str]]:
        """A few lost updates of each kind, with the replicas missing them."""
        return {
            kind: [f"{i} (in {','.join(sorted(ids[i]))})" for i in sorted(ids)[:n]]
            for kind, ids in self.lost.items()
            if ids
        }


def check(ledger: Ledger, finals: list[FinalState]) -> Verdict:
    verdict = Verdict(checked=dict(ledger.acked))
    check_counters(ledger, finals, verdict)
    for final in finals:
        check_set(ledger, final, verdict)
        check_map(ledger, final, verdict)
        check_document(ledger, final, verdict)
    verdict.converged = len({f.digest for f in finals}) == 1 and all(
        (f.counts, f.elements, f.entries, f.text)
        == (finals[0].counts, finals[0].elements, finals[0].entries, finals[0].text)
        for f in finals
    )
    return verdict


def check_counters(ledger: Ledger, finals: list[FinalState], verdict: Verdict) -> None:
    for replica, runs in ledger.incarnations.items():
        for before, after in itertools.pairwise(runs):
            owed = before.base + before.acked
            for k in range(after.base, owed):  # increments a restart came back without
                verdict.miss("cnt", f"{replica}:run{before.run}:+{k - before.base + 1}", replica)
            if after.base > before.base + before.begun:
                verdict.anomalies.append(
                    f"counter {replica}: run {after.run} restarted at {after.base}, more than "
                    f"the {before.base + before.begun} its run {before.run} attempted"
                )
        if not runs:
            continue
        last = runs[-1]
        for final in finals:
            have = final.counts.get(replica, 0)
            for k in range(have, last.base + last.acked):
                verdict.miss("cnt", f"{replica}:run{last.run}:+{k - last.base + 1}", final.replica)
            if have > last.base + last.begun:
                verdict.anomalies.append(
                    f"counter {replica} reads {have} in {final.replica}, more than the "
                    f"{last.base + last.begun} attempted"
                )


def check_set(ledger: Ledger, final: FinalState, verdict: Verdict) -> None:
    removing = ledger.begun["set", "rm"]
    for element in ledger.done["set", "add"] - removing - final.elements:
        verdict.miss("set", f"add {element}", final.replica)
    for element in ledger.done["set", "rm"] & final.elements:
        verdict.miss("set", f"rm {element}", final.replica)
    for element in final.elements - ledger.begun["set", "add"]:
        verdict.anomalies.append(f"set element {element!r} in {final.replica} never added")


def allowed_values(ops: list[MapOp]) -> set[int | None]:
    """The values a key may hold: the last returned op's result, or the next op's (begun)."""
    acked = [i for i, op in enumerate(ops) if op.acked]
    last = acked[-1] if acked else -1
    result = lambda op: op.value if op.op == "put" else ABSENT  # noqa: E731
    allowed = {result(ops[last]) if last >= 0 else ABSENT}
    if last + 1 < len(ops):
        allowed.add(result(ops[last + 1]))
    return allowed


def last_acked(ops: list[MapOp]) -> str:
    op = [op for op in ops if op.acked][-1]
    return f"{op.op} {op.value}" if op.op == "put" else "del"


def check_map(ledger: Ledger, final: FinalState, verdict: Verdict) -> None:
    for key, ops in ledger.map_ops.items():
        if not any(op.acked for op in ops):
            continue
        have = final.entries.get(key, ABSENT)
        if have not in allowed_values(ops):
            verdict.miss("map", f"{key} (last returned: {last_acked(ops)})", final.replica)
    for key in final.entries.keys() - ledger.map_ops.keys():
        verdict.anomalies.append(f"map key {key!r} in {final.replica} never put")


def check_document(ledger: Ledger, final: FinalState, verdict: Verdict) -> None:
    text = final.text
    chunks = [text[i : i + TOKEN_WIDTH] for i in range(0, len(text), TOKEN_WIDTH)]
    broken = [c for c in chunks if not (MARKER.fullmatch(c) or FILLER.fullmatch(c))]
    if broken:
        verdict.anomalies.append(
            f"document in {final.replica} is not whole tokens: {broken[:3]} ({len(broken)} bad)"
        )
        chunks = MARKER.findall(text) + FILLER.findall(text)
    present = Counter(chunks)
    twice = [t for t, n in present.items() if n > 1]
    if twice:
        verdict.anomalies.append(f"document tokens twice in {final.replica}: {twice[:3]}")
    deleting = ledger.begun["doc", "del"]
    for tok in ledger.done["doc", "ins"] - present.keys():
        if MARKER.fullmatch(tok) or tok not in deleting:
            verdict.miss("doc", f"ins {tok}", final.replica)
    for tok in ledger.done["doc", "del"] & present.keys():
        verdict.miss("doc", f"del {tok}", final.replica)
    for tok in present.keys() - ledger.begun["doc", "ins"]:
        verdict.anomalies.append(f"document token {tok} in {final.replica} never inserted")
