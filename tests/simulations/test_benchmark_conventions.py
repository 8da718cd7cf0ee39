"""What every benchmark promises its user (simulations/targets.py): how long it takes, said
first; progress on stderr; the time taken and a verdict per target at the end; exit status 0
when every target is met, 1 when one is missed, 2 for a usage error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulations.targets import announce, finish

ROOT = Path(__file__).resolve().parents[2]


def test_finish_applies_the_one_exit_status_rule(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    assert finish(started, {}) == 0
    assert finish(started, {"fast enough": True, "small enough": True}) == 0
    assert finish(started, {"fast enough": True, "small enough": False}) == 1
    out = capsys.readouterr().out
    assert out.count("target met: fast enough") == 2
    assert "target MISSED: small enough" in out
    assert len(re.findall(r"^took \d+ s$", out, re.M)) == 3


def test_announce_states_the_duration_first(capsys: pytest.CaptureFixture[str]) -> None:
    announce("about 40 s")
    assert capsys.readouterr().out.startswith("(takes about 40 s on an idle 2-vCPU machine")


def test_a_short_mesh_benchmark_run_follows_the_conventions() -> None:
    args = ["--rate", "200", "--duration", "0.5", "--ramp-duration", "0.5", "--rates", "200"]
    result = subprocess.run(
        [sys.executable, "-m", "simulations.bench_mesh", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines = result.stdout.splitlines()
    assert re.match(r"\(takes about \d+ s on an idle", lines[1]), result.stdout
    for backend in ("trio", "asyncio"):  # progress, away from the figures
        assert f"... 200 updates/s for 0.5 s on {backend}" in result.stderr
    assert re.search(r"^took \d+ s$", result.stdout, re.M)
    verdicts = [line for line in lines if line.startswith("target ")]
    assert [v.split(": ", 1)[1] for v in verdicts] == [
        "the watchers keep up at 200 updates/s on trio",
        "the watchers keep up at 200 updates/s on asyncio",
        "asyncio's sustained rate within 1.5x of trio's",
        "asyncio's p99 latency within 1.5x of trio's",
    ]
    assert all(v.split(":")[0] in ("target met", "target MISSED") for v in verdicts)
    missed = any("MISSED" in v for v in verdicts)
    assert result.returncode == (1 if missed else 0), result.stderr


def test_a_usage_error_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulations.bench_types", "--n", "many"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert "invalid int value" in result.stderr
