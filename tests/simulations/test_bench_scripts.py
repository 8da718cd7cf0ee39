"""The issue-14 benchmarks keep working: each script runs in its quickest mode as a real
subprocess, exits 0 and prints its table with a figure in every cell; and the arithmetic
that turns their measurements into verdicts says what it should. (No timing is asserted.)"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from simulations import bench_saturation, bench_scale
from simulations.bench_mesh import keeps_up
from simulations.bench_saturation import Step, plan_next, report, summarize, summarize_mesh
from simulations.bench_scale import Cell, ops_to_run, table, verdict
from simulations.saturation_node import Progress, _last_of_kind

ROOT = Path(__file__).resolve().parents[2]
SCRIPT_TIMEOUT = 300  # seconds; each takes 10-30 s on a shared 2-core machine


def run_module(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )


def assert_verdicts(result: subprocess.CompletedProcess[str], targets: list[str]) -> None:
    """One "target met/MISSED" line per target, in order, and the exit status they imply."""
    verdicts = [line for line in result.stdout.splitlines() if line.startswith("target ")]
    assert len(verdicts) == len(targets), verdicts
    for line, target in zip(verdicts, targets, strict=True):
        assert re.match(r"target (met|MISSED): " + re.escape(target), line), (line, target)
    assert result.returncode == (1 if any("MISSED" in v for v in verdicts) else 0), verdicts
    assert re.search(r"^took \d+ s$", result.stdout, re.M)


def rows(output: str, pattern: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if re.match(pattern, line)]


def number(text: str) -> float:
    return float(text.replace(",", "").rstrip("x%"))


def test_bench_scale_quick_prints_a_figure_per_size_op_and_implementation(tmp_path: Path) -> None:
    png = tmp_path / "scale.png"
    result = run_module("simulations.bench_scale", "--quick", "--plot", str(png))
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: a target missed
    out = result.stdout
    assert out.startswith("(takes about ")
    assert "... crdtstate at 1,000 keys: change done" in result.stderr
    for column in ("crdtstate us/op", "LockedContainer us/op", "pycrdt us/op"):
        assert column in out
    table_rows = rows(out, r"^\s*[\d,]+ (put|add|get|change|notify)\s")
    assert [(r[0], r[1]) for r in table_rows] == [
        (size, op) for size in ("100", "1,000") for op in ("put", "add", "get", "change", "notify")
    ]
    for row in table_rows:
        assert len(row) == 8  # size, op, then (us/op, growth) for each implementation
        costs, growths = row[2::2], row[3::2]
        if row[1] == "notify":
            # change - put may come out zero or negative in noise: no growth ("-") then
            assert all(g.endswith("x") or g == "-" for g in growths), row
            continue
        assert all(number(c) > 0 for c in costs), row
        assert all(g.endswith("x") for g in growths), row
        if row[0] == "100":
            assert growths == ["1.0x"] * 3, row  # the base size against itself
    assert len(rows(out, r"^\s*[\d,]+ (crdtstate|LockedContainer|pycrdt)\s")) == 6  # memory
    assert re.search(r"^verdict: .* -> (MET|NOT MET)$", out, re.M)
    assert png.stat().st_size > 0
    ops = ("put", "add", "get", "change")
    growth = [f"{op}: crdtstate's per-op cost at 1,000 keys within 2x of 100" for op in ops]
    assert_verdicts(result, [*growth, "every cell ran"])
    assert "target met: every cell ran" in out


def test_registry_spread_prints_each_pass_and_its_ratio_to_pycrdt() -> None:
    from simulations.bench_registry import median_pass, spread
    from simulations.registry_report import Result

    def passes(name: str, seconds: list[float]) -> list[Result]:
        return [Result(name, ops=1000, op_seconds=s) for s in seconds]

    pycrdt = passes("pycrdt Map", [0.010, 0.008, 0.012])
    push = passes("container, push sync", [0.020, 0.020, 0.020])
    out = spread([pycrdt, push]).splitlines()
    assert out[1].split()[-3:] == ["100,000,", "125,000,", "83,333"]
    assert out[-1].split()[-3:] == ["0.500x,", "0.400x,", "0.600x"]  # the same pass's pycrdt
    assert median_pass(pycrdt).local_rate == 100_000


def test_bench_registry_quick_runs_five_ways_and_converges() -> None:
    result = run_module("simulations.bench_registry", "--quick")
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: a target missed
    names = (
        "pycrdt Map",
        "bare types (pure API)",
        "container, push sync",
        "container, resume sync",
        "container, digest sync",
    )
    lines = result.stdout.splitlines()
    for name in names:
        line = next(line for line in lines if line.startswith(name))
        figures = line[len(name) :].split()
        assert len(figures) == 5, line
        assert number(figures[0]) > 0 and number(figures[1]) > 0 and number(figures[2]) > 0
        assert figures[4] == "yes", line
    assert sum(line.startswith("verdict (container") for line in lines) == 2  # not the baseline
    assert lines[0].startswith("(takes about ")
    assert "... 5 of 5: container, digest sync" in result.stderr
    by_type = lines.index(next(line for line in lines if line.startswith("KiB by frame type")))
    header = lines[by_type].split()
    assert {"claim", "resume", "digest", "delta"} <= set(header), header
    resume_row = next(line for line in lines[by_type:] if line.startswith("container, resume"))
    kib = dict(zip(header[4:], resume_row[len("container, resume sync") :].split(), strict=True))
    assert number(kib["delta"]) > 0
    assert_verdicts(
        result,
        [
            "container, push sync: local ops/s >= 0.5x pycrdt's",
            "container, resume sync: local ops/s >= 0.5x pycrdt's",
            "the three replicas converged, every way",  # (loro's bytes: the default workload's)
        ],
    )
    assert "target met: the three replicas converged" in result.stdout


def test_bench_saturation_quick_prints_its_curve() -> None:
    result = run_module("simulations.bench_saturation", "--quick")
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: a target missed
    assert result.stdout.startswith("(takes about ")
    assert "... step 2: asked 200 updates/s" in result.stderr
    steps = rows(result.stdout, r"^\s*[\d,]+\s+[\d,]+\s+[\d,]+\s+[\d.]+\s+[\d.]+\s+\d+%")
    assert [number(s[0]) for s in steps] == [100, 200]
    assert all(number(s[1]) > 0 for s in steps)
    assert "peak made rate" in result.stdout
    targets = [
        "converges >= 20,000 updates/s with p99 < 50 ms",  # (200/s asked: missed by design)
        "past saturation the made rate never drops below its peak",
    ]
    assert_verdicts(result, targets)
    assert "target MISSED: converges >= 20,000" in result.stdout


# -- the arithmetic ---------------------------------------------------------------------------


def test_a_watcher_marks_each_update_once_and_only_for_its_kind() -> None:
    async def scenario() -> Progress:
        progress = Progress(capacity=10)
        progress.reach(0, 3)  # the counter reached 2: indices 0 and 3
        progress.reach(1, 4)  # the set's largest element: indices 1 and 4
        progress.reach(0, 3)  # the same again changes nothing
        return progress

    progress = trio.run(scenario)
    marked = [i for i, t in enumerate(progress.seen) if t is not None]
    assert marked == [0, 1, 3, 4]
    assert not progress.complete()  # no `done` yet
    progress.done = 5  # indices 0..4: kind 2 has index 2, not reached
    assert not progress.complete()
    progress.reached[2] = 2
    assert progress.complete()
    assert [_last_of_kind(5, k) for k in range(3)] == [3, 4, 2]
    assert _last_of_kind(1, 2) == -1


def test_summarize_counts_only_updates_both_watchers_saw() -> None:
    made = [10.0, 10.1, 10.2, 10.3]
    w1 = {"seen": [10.01, 10.11, 10.21, 10.31], "complete": True}
    w2 = {"seen": [10.02, 10.12, None, None], "complete": False}
    step = summarize(4.0, 1.0, made, [w1, w2])
    assert step.made == 4.0
    assert step.seen_share == 0.5
    assert not step.complete
    assert step.converged == pytest.approx(2 / (10.12 - 10.0))
    assert step.p99_ms == pytest.approx(20.0, abs=1e-6)


def test_summarize_mesh_counts_each_makers_updates_against_its_own_watchers() -> None:
    """Three nodes each making updates: an update converged once both others saw it."""
    a = ([10.0, 10.1], [{"seen": [10.01, 10.11], "complete": True}] * 2)
    b = ([10.05], [{"seen": [10.06], "complete": True}, {"seen": [None], "complete": False}])
    c = ([10.2], [{"seen": [10.25], "complete": True}, {"seen": [10.3], "complete": True}])
    step = summarize_mesh(3.0, 1.0, [a, b, c])
    assert step.made == 4.0
    assert step.seen_share == 0.75  # b's one update was missed by one of its watchers
    assert not step.complete
    assert step.converged == pytest.approx(3 / (10.3 - 10.0))
    assert step.p99_ms == pytest.approx(100.0, abs=1e-6)  # c's update seen 0.1 s later
    assert summarize_mesh(3.0, 1.0, [a, c]).complete


def test_a_mesh_run_keeps_up_only_if_the_updater_made_90_percent_of_the_asked_rate() -> None:
    run = {"achieved": 900.0, "complete": True, "lag": 5.0}
    assert keeps_up(run, 1000.0, max_lag=100.0)
    assert not keeps_up({**run, "achieved": 899.0}, 1000.0, max_lag=100.0)  # a slow updater
    assert not keeps_up({**run, "complete": False}, 1000.0, max_lag=100.0)  # a watcher missed
    assert not keeps_up({**run, "lag": 100.0}, 1000.0, max_lag=100.0)  # too far behind


def _args(**overrides: object) -> argparse.Namespace:
    base = {"rates": None, "start": 500.0, "floor": 25.0, "max_p99": 1000.0, "tolerance": 0.1}
    return argparse.Namespace(**{**base, **overrides})


def _step(asked: float, made: float, complete: bool = True) -> Step:
    return Step(asked, made, made, 1.0, 10.0, complete, 1.0 if complete else 0.5)


def test_the_ramp_doubles_until_saturation_then_goes_to_three_times_it() -> None:
    args = _args()
    steps: list[Step] = []
    assert plan_next(steps, args) == 500
    steps += [_step(500, 500), _step(1000, 1000)]
    assert plan_next(steps, args) == 2000
    steps.append(_step(2000, 1200, complete=False))  # saturated: 1000 was the last kept
    assert plan_next(steps, args) == 1500  # then 2000 (already run) and 3000
    steps.append(_step(1500, 1300, complete=False))
    assert plan_next(steps, args) == 3000
    steps.append(_step(3000, 900, complete=False))
    assert plan_next(steps, args) is None
    lines = report(steps, args)
    assert [line.split()[0] for line in lines[2:7]] == ["500", "1,000", "1,500", "2,000", "3,000"]
    text = "\n".join(lines)
    assert "highest asked rate that kept up was 1,000/s" in text
    assert "next step, 1,500/s, did not" in text
    assert "fall was to 900/s at 3,000/s asked, 69% of the 1,300/s peak" in text
    assert "DROPS" in text  # 900 is below 90% of the 1,300 made at 1,500/s asked
    assert "p99 under 50 ms): 1,000/s, made 1,000/s" in text


def test_the_report_takes_a_rate_run_twice_that_kept_up_once() -> None:
    steps = [_step(1000, 1000), _step(3000, 3000), _step(3000, 2000, complete=False)]
    text = "\n".join(report(steps, _args(rates=[1000.0, 3000.0, 3000.0])))
    assert "highest asked rate that kept up was 3,000/s" in text
    assert "next step, 3,000/s, did not" in text


def test_saturation_targets_judge_the_rate_and_the_drop_past_saturation() -> None:
    args = _args()
    steps = [_step(10_000, 10_000), _step(20_000, 20_000), _step(40_000, 25_000, complete=False)]
    rate, drop = bench_saturation.targets(steps, args).items()
    assert rate == ("converges >= 20,000 updates/s with p99 < 50 ms (20,000/s sustained)", True)
    assert drop == ("past saturation the made rate never drops below its peak (lowest 100% "
                    "of it, tolerance 10%)", True)  # fmt: skip
    steps.append(_step(60_000, 15_000, complete=False))  # 60% of the 25,000 peak
    assert list(bench_saturation.targets(steps, args).values()) == [True, False]
    lagging = [_step(20_000, 19_700), _step(40_000, 30_000, complete=False)]  # made < 99%
    assert not bench_saturation.targets(lagging, args)[
        "converges >= 20,000 updates/s with p99 < 50 ms (0/s sustained)"
    ]
    slow = _step(20_000, 19_999)
    slow.p99_ms = 50.0  # p99 must be under 50 ms
    assert not bench_saturation.sustains(slow)
    unsaturated = bench_saturation.targets(steps[:2], args)
    assert list(unsaturated.values()) == [True, False]  # nothing past saturation: not shown
    assert "(no step past saturation)" in list(unsaturated)[1]


def test_a_made_rate_still_rising_past_saturation_does_not_drop() -> None:
    """A drop is a fall below the peak made at a lower (or the same) asked rate: a curve
    that goes on rising with the load (pushes coalescing more) is not one, though its last
    step is the peak and its first step past saturation far below it."""
    args = _args()
    kept = [_step(20_000, 20_000), _step(40_000, 40_000)]
    rising = [_step(60_000, 50_000, complete=False), _step(120_000, 70_000, complete=False)]
    assert bench_saturation.worst_drop(kept + rising, args) == (rising[0], 50_000)
    assert list(bench_saturation.targets(kept + rising, args).values()) == [True, True]
    falling = [_step(60_000, 70_000, complete=False), _step(120_000, 50_000, complete=False)]
    assert bench_saturation.worst_drop(kept + falling, args) == (falling[1], 70_000)
    assert list(bench_saturation.targets(kept + falling, args).values()) == [True, False]
    assert bench_saturation.worst_drop(kept, args) is None  # nothing past saturation


def test_the_ramp_looks_below_the_start_when_even_it_is_too_fast() -> None:
    args = _args(start=100.0, floor=25.0)
    steps = [_step(100, 40, complete=False)]
    assert plan_next(steps, args) == 50
    steps.append(_step(50, 30, complete=False))
    assert plan_next(steps, args) == 25
    steps.append(_step(25, 25))
    assert plan_next(steps, args) == 37.5  # 1.5x the 25/s that kept up; 50 is already run
    steps.append(_step(37.5, 30, complete=False))
    assert plan_next(steps, args) == 75
    steps.append(_step(75, 30, complete=False))
    assert plan_next(steps, args) is None
    assert plan_next([_step(30, 5, complete=False)], args) is None  # 15 is below the floor


def test_scale_skips_ops_predicted_slower_than_the_bound() -> None:
    args = argparse.Namespace(max_op=20.0)
    small = Cell("locked", 1_000, mean_us={"put": 50_000.0, "get": 100.0})
    planned = ops_to_run("locked", 1_000_000, {("locked", 1_000): small}, args)
    assert planned.skipped == {"put": pytest.approx(50e6)}  # 50 ms x 1000 = 50 s > 20 s
    bigger = ops_to_run("locked", 10_000_000, {("locked", 1_000_000): planned}, args)
    assert set(bigger.skipped) == {"put"}  # an estimate carries on to the next size


def test_scale_verdict_and_growth() -> None:
    cells = {
        ("crdtstate", 1_000): Cell("crdtstate", 1_000, mean_us=dict.fromkeys(
            ("put", "add", "get", "change"), 10.0)),
        ("crdtstate", 1_000_000): Cell("crdtstate", 1_000_000, mean_us={
            "put": 15.0, "add": 19.0, "get": 20.0, "change": 25.0}),
    }  # fmt: skip
    sizes = [1_000, 1_000_000]
    ops = ["put", "add", "get", "change"]
    text = verdict(cells, sizes, ops)
    assert "1M vs 1k keys" in text and "change 2.5x" in text and text.endswith("NOT MET")
    assert list(bench_scale.targets(cells, sizes, ops).values()) == [True, True, True, False, True]
    cells[("crdtstate", 1_000_000)].mean_us["change"] = 20.0
    assert verdict(cells, sizes, ops).endswith("-> MET")
    checked = bench_scale.targets(cells, sizes, ops)
    assert all(checked.values())
    assert "change: crdtstate's per-op cost at 1,000,000 keys within 2x of 1,000 (2.0x)" in checked
    cells[("pycrdt", 1_000)] = Cell("pycrdt", 1_000, error="boom")
    assert not bench_scale.targets(cells, sizes, ops)["every cell ran (failed: pycrdt at 1,000)"]
    assert "1.5x" in table(cells, sizes, ["crdtstate"], ops)


def test_bench_buffer_quick_prints_memory_beside_the_baseline() -> None:
    result = run_module("simulations.bench_buffer", "--quick")
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: a target missed
    lines = result.stdout.splitlines()
    assert lines[0].startswith("(takes about ")
    rows = [line for line in lines if line.startswith(("byte bound only", "folding"))]
    assert len(rows) == 4
    baseline, folded = rows[2].split(), rows[3].split()
    assert number(baseline[-4]) > number(folded[-4]) > 0  # memory MiB, at 4,000 updates
    assert number(folded[-3]) > 0  # the folded buffer folded
    assert_verdicts(result, ["folded, memory after 4,000 updates within 1.5x of after 1,000"])


def test_bench_digests_quick_prints_a_round_per_size_beside_format_1_and_scanning() -> None:
    result = run_module("simulations.bench_digests", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]  # it checks no target
    rows = [line.split() for line in result.stdout.splitlines() if line[:9].strip()[:1].isdigit()]
    assert [number(row[0]) for row in rows] == [200, 2_000]
    for row in rows:
        digests, old_digests, answers, old_answers = (number(x) for x in row[1:5])
        assert 0 < digests <= old_digests and 0 < answers < old_answers
    assert_verdicts(result, [])


def test_bench_transmission_prints_a_row_per_workload_and_topology() -> None:
    result = run_module("simulations.bench_transmission", "--updates", "2")
    assert result.returncode == 0, result.stderr[-3000:]  # it checks no target
    assert result.stdout.startswith("(takes about 5 s")
    assert "15 replicas, 2 updates each" in result.stdout
    table_rows = rows(result.stdout, r"^(gset|gcounter|gmap-10|gmap-100) ")
    workloads = ("gset", "gcounter", "gmap-10", "gmap-100")
    assert [(r[0], r[1]) for r in table_rows] == [
        (w, t) for w in workloads for t in ("tree", "mesh")
    ]
    for row in table_rows:
        assert len(row) == 8, row
        assert all(number(figure) > 0 for figure in row[2:]), row
    assert "... gmap-100/mesh" in result.stderr
    assert_verdicts(result, [])


def test_repeated_runs_keep_the_median_made_rate_and_report_the_spread() -> None:
    runs = [_step(24_000, 17_000, complete=False), _step(24_000, 24_000), _step(24_000, 18_500)]
    median = bench_saturation.median_step(runs)
    assert median.made == 18_500
    assert median.made_runs == (17_000, 18_500, 24_000)
    assert bench_saturation.median_step(runs[:2]).made == 17_000  # the lower middle: no flattery
    text = "\n".join(report([_step(16_000, 16_000), median], _args()))
    assert "asked 24,000: 17,000-24,000" in text


def test_scale_repeats_keep_each_ops_median_and_show_every_run() -> None:
    """`--repeats`: per op the median of the runs' mean costs (the lower middle one for an
    even count), the spread printed with each run's own growth."""
    runs = [Cell("crdtstate", 1_000, mean_us={"put": us, "get": 1.0}) for us in (10.0, 30.0, 20.0)]
    merged = bench_scale.median_cell(runs)
    assert merged.mean_us == {"put": 20.0, "get": 1.0} and merged.error is None
    assert bench_scale.median_cell(runs[:2]).mean_us["put"] == 10.0
    runs[1].error = "boom"
    assert bench_scale.median_cell(runs).error == "boom"
    large = [Cell("crdtstate", 1_000_000, mean_us={"put": us}) for us in (15.0, 90.0, 20.0)]
    text = bench_scale.spread(
        {("crdtstate", 1_000): runs, ("crdtstate", 1_000_000): large}, [1_000, 1_000_000], ["put"]
    )
    assert "10.0 -> 15.0 (1.5x), 30.0 -> 90.0 (3.0x), 20.0 -> 20.0 (1.0x)" in text


def test_a_scale_round_builds_every_cell_before_timing_any() -> None:
    """`run_round`: each cell's worker builds and waits; only then are the cells timed, in
    size order, each running just the ops the parent names (those not predicted too slow)."""
    steps: list[tuple[int, str]] = []
    args = argparse.Namespace(budget=0.02, min_ops=1, max_op=60.0, ops=["put", "get"])
    original = bench_scale.progress
    try:
        bench_scale.progress = lambda text: steps.append(  # type: ignore[assignment]
            (int(text.split(" at ")[1].split(" keys")[0].replace(",", "")), text.split(": ")[-1])
        )
        cells = bench_scale.run_round([50, 200], ["crdtstate"], args, "")
    finally:
        bench_scale.progress = original  # type: ignore[assignment]
    assert [c.size for c in cells] == [50, 200] and not any(c.error for c in cells)
    assert all(set(c.mean_us) == {"put", "get"} and c.build for c in cells)
    names = [name for _, name in steps]
    assert names.index("build done", names.index("build done") + 1) < names.index("put done")
    assert [size for size, name in steps if name.endswith("done")] == [50, 200, 50, 50, 200, 200]


def test_a_held_cell_whose_worker_fails_reports_its_error() -> None:
    args = argparse.Namespace(budget=0.02, min_ops=1)
    worker = bench_scale.HeldCell("no-such-impl", 50, args, lambda cell, step: None)
    try:
        cell = worker.build()
        cell = worker.run(["put"])
    finally:
        worker.close()
    assert "invalid choice" in (cell.error or "") and not cell.mean_us and not cell.build
