"""Replay a real editing trace through a `Document` container and through pycrdt alone.

The trace is automerge-paper (259,778 single-character edits of the LaTeX source of a paper),
by Martin Kleppmann, CC-BY 4.0, file sequential_traces/automerge-paper.json.gz of
https://github.com/josephg/editing-traces. It is not in this repository: download it and pass
its path (default: ../shared/data/automerge-paper.json.gz relative to the repository root).
Takes about a minute (six replays of 5 to 8 s, each in a fresh process). Exit status: see
`simulations/targets.py` (target: the container within 1.2x of pycrdt alone).

Both sides replay the same edits in the same bounded transactions (`--batch` edits each) and
ship every transaction's update to a second copy:
- pycrdt alone: a `Doc`; each transaction's update (from the doc's observer) is applied to a
  second `Doc`.
- crdtstate: `replica.container("paper", Document).update(...)` per batch; the delta-group it
  buffered is encoded with the codec, decoded and joined by a second replica (`apply_remote`:
  validation, the RR step and merge), as anti-entropy does minus the socket.
Reported: time to apply the edits locally, time for the second copy to take them in, bytes
shipped, and the final encoded size. Each side runs `--repeat` times, alternating, and the
fastest run of each counts (the others only absorb noise on a shared machine).

Every run is a fresh child process. Yrs walks a text's items as a linked list of heap blocks,
so its speed depends on where they landed: in one process each further replay of this trace
was slower than the last (5.3 s, 6.2 s, 6.3 s, 6.6 s, 6.8 s, 7.1 s for pycrdt alone, with flat
memory), which favoured whichever side happened to run first.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio
from pycrdt import Doc, Text

from crdtstate import Document, Replica, codec
from crdtstate.types.yjs.clientids import ClientIdAllocator
from simulations.output import Column, Table
from simulations.targets import announce, bench_parser, finish, progress

DEFAULT_TRACE = Path(__file__).resolve().parents[1] / ".." / "shared/data/automerge-paper.json.gz"
Patch = tuple[int, int, str]


def load(path: Path) -> tuple[list[Patch], str]:
    with gzip.open(path, "rt") as f:
        trace = json.load(f)
    patches = [tuple(p) for txn in trace["txns"] for p in txn["patches"]]
    return patches, trace["endContent"]  # type: ignore[return-value]


def apply_patches(text: Text, patches: list[Patch]) -> None:
    for pos, deleted, inserted in patches:
        if deleted:
            del text[pos : pos + deleted]
        if inserted:
            text.insert(pos, inserted)


def run_pycrdt(batches: list[list[Patch]]) -> dict[str, Any]:
    # 32-bit client ids, as the Document container's (and Yjs clients') are
    source = Doc(client_id=ClientIdAllocator("writer", 1).client_id())
    mirror = Doc(client_id=ClientIdAllocator("reader", 1).client_id())
    text = source.get("body", type=Text)
    updates: list[bytes] = []
    source.observe(lambda event: updates.append(event.update))
    local = remote = 0.0
    shipped = 0
    for batch in batches:
        t0 = time.perf_counter()
        with source.transaction():
            apply_patches(text, batch)
        update = updates.pop()
        t1 = time.perf_counter()
        mirror.apply_update(update)
        t2 = time.perf_counter()
        local += t1 - t0
        remote += t2 - t1
        shipped += len(update)
    result = str(mirror.get("body", type=Text))
    return dict(
        local=local, remote=remote, shipped=shipped, size=len(source.get_update()), text=result
    )


async def run_documents(batches: list[list[Patch]]) -> dict[str, Any]:
    async with Replica.open("writer") as a, Replica.open("reader") as b:
        paper = a.container("paper", Document)
        local = remote = 0.0
        shipped = 0
        for batch in batches:
            t0 = time.perf_counter()
            await paper.update(lambda d, batch=batch: apply_patches(d.text("body"), batch))
            t1 = time.perf_counter()
            sequence = a.buffer.sequence
            frame = codec.encode(a.buffer.collect(sequence - 1)["paper"])
            a.buffer.discard_through(sequence)
            await b.apply_remote({"paper": codec.decode(frame)}, origin="writer")
            t2 = time.perf_counter()
            local += t1 - t0
            remote += t2 - t1
            shipped += len(frame)
        size = len(codec.encode(paper.state))
        text = (await b.container("paper", Document).get())["body"]
    return dict(local=local, remote=remote, shipped=shipped, size=size, text=text)


SIDES = {"pycrdt alone": "pycrdt", "Document container": "document"}


def run_side(side: str, batches: list[list[Patch]]) -> dict[str, Any]:
    if side == "pycrdt":
        return run_pycrdt(batches)
    return trio.run(run_documents, batches)


def run_child(side: str, args: argparse.Namespace) -> dict[str, Any]:
    """One run of `side` in a fresh interpreter (see the module doc for why)."""
    command = [sys.executable, "-P", __file__, str(args.trace), "--batch", str(args.batch)]
    command += ["--child", side] + (["--limit", str(args.limit)] if args.limit else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


BEST = Table(
    Column("best run", 20, align="<"),
    Column("apply (s)", 10, ".3f"),
    Column("2nd copy (s)", 13, ".3f"),
    Column("total (s)", 10, ".3f"),
    Column("shipped (B)", 12, ","),
    Column("encoded (B)", 12, ","),
)


def main() -> int:
    parser = bench_parser("simulations.bench_documents", __doc__)
    parser.add_argument(
        "trace",
        nargs="?",
        type=Path,
        default=DEFAULT_TRACE,
        help="automerge-paper.json.gz from github.com/josephg/editing-traces "
        "(sequential_traces/); default: %(default)s",
    )
    parser.add_argument("--batch", type=int, default=100, help="edits per transaction")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (best counts)")
    parser.add_argument("--limit", type=int, default=None, help="replay only the first N edits")
    parser.add_argument("--child", choices=sorted(SIDES.values()), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.trace.is_file():
        parser.error(
            f"no trace at {args.trace}: download sequential_traces/automerge-paper.json.gz from "
            "https://github.com/josephg/editing-traces and pass its path"
        )
    patches, expected = load(args.trace)
    if args.limit is not None:
        patches, expected = patches[: args.limit], None  # type: ignore[assignment]
    batches = [patches[i : i + args.batch] for i in range(0, len(patches), args.batch)]
    if args.child:
        result = run_side(args.child, batches)
        result["matches_trace"] = expected is None or result.pop("text") == expected
        result.pop("text", None)
        print(json.dumps(result))
        return 0
    started = announce(f"about {args.repeat * 2 * 7 * len(patches) // 259_778 + 5} s")
    print(f"trace: {args.trace.name}, {len(patches):,} edits in {len(batches):,} transactions")
    print("  (Martin Kleppmann, CC-BY 4.0, from github.com/josephg/editing-traces)")
    print(f"  {args.repeat} runs of each side, alternating, each in a fresh process\n")
    best: dict[str, dict[str, Any]] = {}
    for round_number in range(args.repeat):
        for name, side in SIDES.items():
            progress(f"run {round_number + 1} of {args.repeat}: {name}")
            result = run_child(side, args)
            if not result["matches_trace"]:
                raise SystemExit(f"{name}: the replayed text differs from the trace's end")
            total = result["local"] + result["remote"]
            print(f"  run {round_number + 1}: {name:20} {total:7.3f} s", flush=True)
            if name not in best or total < best[name]["local"] + best[name]["remote"]:
                best[name] = result
    print("\n" + BEST.header())
    for name, r in best.items():
        total = r["local"] + r["remote"]
        print(BEST.row(name, r["local"], r["remote"], total, r["shipped"], r["size"]))
    base, ours = best["pycrdt alone"], best["Document container"]
    ratio = (ours["local"] + ours["remote"]) / (base["local"] + base["remote"])
    print(f"\nDocument container / pycrdt alone (total time): {ratio:.2f}x")
    if expected is not None:
        print(f"final text: {len(expected):,} characters, equal on both copies and to the trace")
    return finish(
        started, {f"Document container / pycrdt alone <= 1.2x ({ratio:.2f}x)": ratio <= 1.2}
    )


if __name__ == "__main__":
    raise SystemExit(main())
