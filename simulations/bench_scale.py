"""Scale benchmark (issue 14): measures whether an operation's cost grows with the state held.
It says first about how long it takes, and ends with a verdict per target: crdtstate's per-op
cost at the largest size within 2x of the smallest, for put, add, get and change (and every
cell ran). Exit status: see `simulations/targets.py`.

Per-op cost of `put` (an ORMap key assignment through `await container.update(...)`), `add`
(an AWSet add), `get` (`await container.get()`) and `change` (from the start of a put to a
subscriber task holding its Change), at each size, for crdtstate's replicated containers,
`LockedContainer` holding the plain dict and set, and a pycrdt `Map` (pycrdt has no set:
a map of element -> True; its `get` is `Map.to_py()`, its subscriber an `observe` callback).
`notify` is change - put: what a subscriber adds to an update. Each cell (implementation x
size) runs in a fresh process (`scale_worker.py`); every cell of a run is built first, then
they are timed back to back, smallest size first (`scale_cells.py`), so the sizes compared
see the machine at the same minute; each op kind is timed for `--budget`
seconds after a warm-up, at least `--min-ops` times, and the figure is the mean (so costs paid
once every k ops count). An op predicted (from the previous size, linearly) to take longer
than `--max-op` seconds is skipped and its estimate printed. Also prints the resident memory
each structure added per key. `--repeats N` runs every cell N times and keeps each op's
median cost, printing every run's (one run per size is a draw on a shared VM).

    python -m simulations.bench_scale [--sizes 1000,10000,100000,1000000] [--budget 1.5]
                                      [--repeats 3] [--quick] [--plot scale.png] [--json f]
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import chain
from pathlib import Path
from typing import Any

from .output import Column, Table
from .scale_cells import Cell, HeldCell
from .scale_worker import IMPLS, OPS
from .targets import announce, bench_parser, finish, progress

DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
IMPL_ORDER = ("crdtstate", "locked", "pycrdt")
LABELS = {"crdtstate": "crdtstate", "locked": "LockedContainer", "pycrdt": "pycrdt"}
TARGET_RATIO = 2.0  # issue 14: per-op cost at 1M keys within 2x of 1k keys
TARGET_OPS = ("put", "add", "get", "change")
# Costs per key held, in microseconds, for the duration estimate only (crdtstate's ops are
# O(change) now: only its build grows with the state; the baselines' ops are O(n)).
COST_PER_KEY_US = {
    "crdtstate": {"build": 110, "put": 0.0, "add": 0.0, "get": 0.0, "change": 0.0},
    "locked": {"build": 25, "put": 48.0, "add": 1.7, "get": 20.0, "change": 94.0},
    "pycrdt": {"build": 50, "put": 0.0, "add": 0.0, "get": 17.0, "change": 0.0},
}
PROCESS_START_S = 1.5


def estimate_seconds(sizes: list[int], impls: list[str], args: argparse.Namespace) -> float:
    total = 0.0
    for size in sizes:
        for impl in impls:
            costs = COST_PER_KEY_US[impl]
            total += PROCESS_START_S + costs["build"] * size * 1e-6
            for op in args.ops:
                one = costs[op] * size * 1e-6 * (2 if op == "change" else 1)
                if one > args.max_op:
                    continue
                total += one if one >= args.budget else max(args.budget, args.min_ops * one) + one
    return total


def run_round(sizes: list[int], impls: list[str], args: argparse.Namespace, of: str) -> list[Cell]:
    """One run of every cell: each built in turn (alone on the machine), then the ops of
    each timed, smallest size first, back to back (`scale_cells`); an op predicted too slow
    from the smaller sizes' results is skipped."""

    def step_done(cell: Cell, step: str) -> None:
        progress(f"{LABELS[cell.impl]} at {cell.size:,} keys{of}: {step} done")

    held = [HeldCell(impl, size, args, step_done) for size in sizes for impl in impls]
    cells: dict[tuple[str, int], Cell] = {}
    try:
        for worker in held:
            progress(f"{LABELS[worker.cell.impl]} at {worker.cell.size:,} keys{of}: building")
            worker.build()
        for worker in held:
            impl, size = worker.cell.impl, worker.cell.size
            planned = ops_to_run(impl, size, cells, args)
            cell = worker.run([op for op in args.ops if op not in planned.skipped])
            cell.skipped = planned.skipped
            cells[(impl, size)] = cell
            if cell.error:
                print(f"{LABELS[impl]} at {size:,} failed: {cell.error}", file=sys.stderr)
    finally:
        for worker in held:
            worker.close()
    return list(cells.values())


def median_cell(runs: list[Cell]) -> Cell:
    """Of one cell's runs, per op the median mean cost (the lower middle one for an even
    count), the first run's build figures, and any run's error. A cell is one process a
    minute or more from the next; a shared VM's speed drifts ~2x over minutes (a fixed
    Python probe: 0.08-0.16 s of CPU), so one run of each size is a draw, not a ratio."""
    merged = Cell(runs[0].impl, runs[0].size, build=runs[0].build, skipped=runs[0].skipped)
    for op in runs[0].mean_us:
        costs = sorted(run.mean_us[op] for run in runs if op in run.mean_us)
        merged.mean_us[op] = costs[(len(costs) - 1) // 2]
        merged.samples[op] = sum(run.samples.get(op, 0) for run in runs)
    merged.error = next((run.error for run in runs if run.error), None)
    return merged


def spread(runs: dict[tuple[str, int], list[Cell]], sizes: list[int], ops: list[str]) -> str:
    """crdtstate's cost per run of each target op, at the smallest and largest size, and each
    run's growth (largest / smallest size in the same run), so the noise behind the medians
    shows."""
    lines = ["crdtstate, us per op of each run (the table shows the median) and growth per run:"]
    small, large = runs.get(("crdtstate", sizes[0])), runs.get(("crdtstate", sizes[-1]))
    if not small or not large:
        return lines[0] + " not run"
    for op in [o for o in TARGET_OPS if o in ops]:
        figures = []
        for a, b in zip(small, large, strict=True):
            first, last = a.mean_us.get(op), b.mean_us.get(op)
            if first and last:
                figures.append(f"{fmt_us(first)} -> {fmt_us(last)} ({last / first:.1f}x)")
        lines.append(f"  {op:<7} " + ", ".join(figures))
    return "\n".join(lines)


def ops_to_run(impl: str, size: int, cells: dict[tuple[str, int], Cell], args: Any) -> Cell:
    """The cell at `size` with the ops predicted too slow marked skipped (not yet run)."""
    cell = Cell(impl, size)
    smaller = [s for (i, s) in cells if i == impl and s < size]
    if smaller:
        previous = cells[(impl, max(smaller))]
        for op, us in {**previous.mean_us, **previous.skipped}.items():
            predicted = us * size / previous.size
            if predicted > args.max_op * 1e6:
                cell.skipped[op] = predicted
    return cell


def fmt_us(us: float | None) -> str:
    if us is None:
        return "-"
    return f"{us:,.0f}" if us >= 100 else f"{us:.1f}"


def fmt_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:,.1f}x"


def cost(cells: dict[tuple[str, int], Cell], impl: str, size: int, op: str) -> float | None:
    cell = cells.get((impl, size))
    if cell is None:
        return None
    if op == "notify":
        change, put = cell.mean_us.get("change"), cell.mean_us.get("put")
        return None if change is None or put is None else change - put
    return cell.mean_us.get(op)


Cells = dict[tuple[str, int], Cell]


def table(cells: Cells, sizes: list[int], impls: list[str], ops: list[str]) -> str:
    base = sizes[0]
    growth = [(Column(LABELS[i] + " us/op", 21), Column("x" + f"{base:,}", 9)) for i in impls]
    costs = Table(Column("size", 9, ","), Column("op", 7, align="<"), *chain(*growth))
    lines = [costs.header()]
    rows = [*ops, "notify"] if "change" in ops and "put" in ops else list(ops)
    for size in sizes:
        for op in rows:
            figures: list[str] = []
            for impl in impls:
                now, first = cost(cells, impl, size, op), cost(cells, impl, base, op)
                skipped = cells[(impl, size)].skipped.get(op) if (impl, size) in cells else None
                text = f"skip(~{skipped / 1e6:,.0f}s)" if skipped and now is None else fmt_us(now)
                ratio = now / first if now is not None and first and first > 0 else None
                figures += [text, fmt_ratio(ratio)]
            lines.append(costs.row(size, op, *figures))
    return "\n".join(lines)


MEMORY = Table(
    Column("size", 9, ","),
    Column("implementation", 16, align="<"),
    Column("map B/key", 10, ",.0f"),
    Column("set B/key", 10, ",.0f"),
    Column("build s", 8, ".1f"),
)


def memory_table(cells: dict[tuple[str, int], Cell], sizes: list[int], impls: list[str]) -> str:
    lines = [MEMORY.header()]
    for size in sizes:
        for impl in impls:
            b = cells[(impl, size)].build
            if not b:
                continue
            lines.append(
                MEMORY.row(
                    size,
                    LABELS[impl],
                    b["map_bytes_per_key"],
                    b["set_bytes_per_key"],
                    b["seconds"],
                )
            )
    return "\n".join(lines)


def growths(cells: Cells, sizes: list[int], ops: list[str]) -> dict[str, float | None]:
    """Per target op, crdtstate's cost at the largest size / at the smallest (None: unmeasured)."""
    small, large = sizes[0], sizes[-1]
    ratios: dict[str, float | None] = {}
    for op in [o for o in TARGET_OPS if o in ops]:
        first, last = cost(cells, "crdtstate", small, op), cost(cells, "crdtstate", large, op)
        ratios[op] = None if first is None or last is None else last / first
    return ratios


def targets(cells: Cells, sizes: list[int], ops: list[str]) -> dict[str, bool]:
    """Issue 14's growth target per op, and every cell ran (a failed cell is a failed run)."""
    checked = {}
    for op, ratio in growths(cells, sizes, ops).items():
        figure = "not measured" if ratio is None else f"{ratio:,.1f}x"
        description = (
            f"{op}: crdtstate's per-op cost at {sizes[-1]:,} keys within {TARGET_RATIO:.0f}x "
            f"of {sizes[0]:,} ({figure})"
        )
        checked[description] = ratio is not None and ratio <= TARGET_RATIO
    failed = [f"{LABELS[c.impl]} at {c.size:,}" for c in cells.values() if c.error]
    checked["every cell ran" + (f" (failed: {', '.join(failed)})" if failed else "")] = not failed
    return checked


def verdict(cells: dict[tuple[str, int], Cell], sizes: list[int], ops: list[str]) -> str:
    small, large = sizes[0], sizes[-1]
    parts, met = [], True
    for op, ratio in growths(cells, sizes, ops).items():
        if ratio is None:
            parts.append(f"{op} not measured")
            met = False
            continue
        met = met and ratio <= TARGET_RATIO
        parts.append(f"{op} {ratio:,.1f}x")
    exact = small == 1_000 and large == 1_000_000
    scope = "1M vs 1k keys" if exact else f"{large:,} vs {small:,} keys (not the issue's 1M vs 1k)"
    outcome = "MET" if met else "NOT MET"
    return (
        f"verdict: per-op cost at {scope} within {TARGET_RATIO:.0f}x "
        f"(crdtstate): {', '.join(parts)} -> {outcome}"
    )


def plot(cells: Cells, sizes: list[int], impls: list[str], ops: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ops), figsize=(4 * len(ops), 4), dpi=110, squeeze=False)
    for ax, op in zip(axes[0], ops, strict=True):
        for impl in impls:
            points = [(s, cost(cells, impl, s, op)) for s in sizes]
            xs = [s for s, c in points if c]
            ys = [c for _, c in points if c]
            if xs:
                ax.plot(xs, ys, marker="o", label=LABELS[impl])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(op)
        ax.set_xlabel("keys held")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("us per op (mean)")
    axes[0][0].legend()
    fig.suptitle("Per-op cost vs state size (log-log; flat = O(change))")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def parse_sizes(text: str) -> list[int]:
    return sorted({int(s.replace("_", "")) for s in text.split(",") if s})


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("simulations.bench_scale", __doc__, quick="tiny sizes and budget (CI)")
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="keys held, comma-separated (default: 1000,10000,100000,1000000)",
    )
    parser.add_argument("--budget", type=float, default=1.5, help="seconds of ops per op kind")
    parser.add_argument("--min-ops", type=int, default=3, help="ops timed at least, per kind")
    parser.add_argument(
        "--max-op", type=float, default=20.0, help="skip an op predicted to take longer (s)"
    )
    parser.add_argument(
        "--impls",
        type=lambda s: s.split(","),
        default=list(IMPL_ORDER),
        help=f"implementations to run, comma-separated (default: {','.join(IMPL_ORDER)})",
    )
    parser.add_argument(
        "--ops",
        type=lambda s: s.split(","),
        default=list(OPS),
        help=f"operations to time, comma-separated (default: {','.join(OPS)})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="run every cell this many times, sizes in turn, and keep each op's median cost",
    )
    parser.add_argument("--plot", type=Path, help="write a log-log PNG of cost vs size here")
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.budget, args.min_ops = [100, 1_000], 0.05, 1
    bad = (set(args.impls) - set(IMPLS)) | (set(args.ops) - set(OPS))
    if bad:
        parser.error(f"unknown implementation or op: {sorted(bad)}")
    impls = [i for i in IMPL_ORDER if i in args.impls]
    sizes = args.sizes
    expected = estimate_seconds(sizes, impls, args) * args.repeats
    minutes = f"{expected / 60:.0f} min ({expected:.0f} s)" if expected >= 120 else ""
    started = announce(f"about {minutes or f'{expected:.0f} s'}")
    print(
        f"crdtstate scale benchmark: sizes {', '.join(f'{s:,}' for s in sizes)}; "
        f"{args.budget:g} s per op kind (the duration assumes today's O(n) updates)",
        flush=True,
    )
    runs: dict[tuple[str, int], list[Cell]] = {}
    for repeat in range(args.repeats):  # every size built, then timed back to back; again
        of = f" (run {repeat + 1} of {args.repeats})" if args.repeats > 1 else ""
        for cell in run_round(sizes, impls, args, of):
            runs.setdefault((cell.impl, cell.size), []).append(cell)
    cells = {key: median_cell(cell_runs) for key, cell_runs in runs.items()}
    print()
    print(table(cells, sizes, impls, args.ops))
    if args.repeats > 1:
        print(spread(runs, sizes, args.ops))
    print(
        f"\n(mean us per op over >= {args.min_ops} ops or {args.budget:g} s after a warm-up; "
        f"x{sizes[0]:,}: cost at that size / cost at {sizes[0]:,}; notify = change - put;"
        " skip(~N s): predicted slower than --max-op, not run)"
    )
    print()
    print(memory_table(cells, sizes, impls))
    print("(resident memory the build added, per key; crdtstate's includes its delta buffer)")
    print()
    print(verdict(cells, sizes, args.ops))
    if args.plot:
        plot(cells, sizes, impls, [o for o in args.ops if o in OPS], args.plot)
        print(f"plot: {args.plot}")
    if args.json:
        args.json.write_text(json.dumps([c.__dict__ for c in cells.values()], indent=1))
    return finish(started, targets(cells, sizes, args.ops))


if __name__ == "__main__":
    raise SystemExit(main())
