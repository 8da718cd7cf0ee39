"""What each replica process of the fault run did, as lines appended to its own file.

A replica process writes, with one `os.write` each (so a SIGKILL leaves at most one line cut
short, which the reader skips):

    I <run> <counter base>          at start-up: its own GCounter entry as reopened
    B <kind> <op> <id> <value>      just before an update is applied
    D <kind> <op> <id> <value>      just after `await container.update(...)` returned

So the "D" lines are exactly the acknowledged updates, and an update without a "B" line was
never attempted. Kinds and ops: `cnt inc`, `set add|rm`, `map put|del`, `doc ins|del`. Every
id is unique to one update (set elements, map keys, document tokens), except that a map key
is put and deleted again by the one task that owns it. `Ledger` gathers every file's lines.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

TOKEN_WIDTH = 12
MARKER = re.compile(r"<\d{10}>")  # a marker: never deleted, must survive everywhere
FILLER = re.compile(r"\(\d{10}\)")  # a filler: the only text that is ever deleted
KINDS = ("cnt", "set", "map", "doc")


def token(kind: str, replica: int, run: int, task: int, n: int) -> str:
    """A TOKEN_WIDTH-character document token: `<...>` a marker, `(...)` a filler."""
    left, right = ("<", ">") if kind == "marker" else ("(", ")")
    return f"{left}{replica}{run:02d}{task}{n:06d}{right}"


class Recorder:
    """Appends a replica process's lines to its ledger file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _write(self, line: str) -> None:
        os.write(self._fd, (line + "\n").encode())

    def start(self, run: int, base: int) -> None:
        self._write(f"I {run} {base}")

    def begin(self, kind: str, op: str, ident: str, value: object = "-") -> None:
        self._write(f"B {kind} {op} {ident} {value}")

    def done(self, kind: str, op: str, ident: str, value: object = "-") -> None:
        self._write(f"D {kind} {op} {ident} {value}")

    def close(self) -> None:
        os.close(self._fd)


@dataclass
class Incarnation:
    """One run of a replica process: its counter base and increments begun and returned."""

    run: int
    base: int
    begun: int = 0
    acked: int = 0


@dataclass(frozen=True, slots=True)
class MapOp:
    op: str  # "put" or "del"
    value: int | None
    acked: bool


@dataclass
class Ledger:
    """Every replica's lines, indexed for the check."""

    incarnations: dict[str, list[Incarnation]] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    begun: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    done: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    map_ops: dict[str, list[MapOp]] = field(default_factory=dict)

    @classmethod
    def read(cls, files: dict[str, Path], acked_by: str | None = None) -> Ledger:
        """Every file's lines; with `acked_by`, only that replica's updates count as
        acknowledged (the others' are only begun, and their counters are left out)."""
        ledger = cls()
        for replica, path in files.items():
            text = path.read_text() if path.exists() else ""
            ledger.add_lines(replica, text, acks=acked_by in (None, replica))
        return ledger

    @property
    def total_acked(self) -> int:
        return sum(self.acked.values())

    def add_lines(self, replica: str, text: str, *, acks: bool = True) -> None:
        runs = self.incarnations.setdefault(replica, []) if acks else []
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # the line a kill cut short
            fields = line.split()
            if fields[0] == "I":
                runs.append(Incarnation(int(fields[1]), int(fields[2])))
                continue
            phase, kind, op, ident, value = fields
            acked = phase == "D"
            if not acks and (acked or kind == "cnt"):
                continue
            if kind == "cnt":
                if acked:
                    runs[-1].acked += 1
                else:
                    runs[-1].begun += 1
            elif kind == "map":
                self._map_line(ident, op, value, acked)
            else:
                (self.done if acked else self.begun)[kind, op].add(ident)
            if acked:
                self.acked[kind] += 1

    def _map_line(self, key: str, op: str, value: str, acked: bool) -> None:
        ops = self.map_ops.setdefault(key, [])
        number = None if value == "-" else int(value)
        if acked:  # the "D" of the op its "B" began: one task owns the key, so it is the last
            ops[-1] = MapOp(op, number, acked=True)
        else:
            ops.append(MapOp(op, number, acked=False))
