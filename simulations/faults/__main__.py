"""`python -m simulations faults [--seed N] [--updates N] [--kills K] [--cuts C] [--stalls S]`

Runs three replica processes that make updates while some are killed with SIGKILL and their
links cut or stalled, then checks that no acknowledged update was lost and that the replicas
converged. It says first about how long it takes, prints progress and the faults as they
happen (stderr), then the count of acknowledged updates checked and lost, by kind, and a
verdict per target (issue 13: 0 lost, converged). Exit status (`simulations/targets.py`): 0
when every target is met, 1 if any update was lost, a replica holds something nobody wrote,
or the replicas did not converge, 2 for a usage error. The same seed replays the same
workload and the same faults at the same points of it. The databases, ledgers and process
logs are kept in `--workdir` (by default a temporary directory, kept on failure).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import trio

from ..targets import announce, finish
from .plan import REPLICAS
from .run import FaultConfig, FaultReport, run_faults

STARTUP_S = 20  # processes starting, faults healing and the replicas converging


def parse(argv: list[str] | None) -> tuple[FaultConfig, Path | None]:
    defaults = FaultConfig()
    parser = argparse.ArgumentParser(
        prog="python -m simulations faults", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="the same seed replays the same run"
    )
    parser.add_argument(
        "--updates", type=int, default=defaults.updates, help="updates made, all processes"
    )
    parser.add_argument(
        "--kills", type=int, default=defaults.kills, help="processes killed with SIGKILL"
    )
    parser.add_argument("--cuts", type=int, default=defaults.cuts, help="links cut for a while")
    parser.add_argument(
        "--stalls", type=int, default=defaults.stalls, help="links stalled for a while"
    )
    parser.add_argument("--tasks", type=int, default=defaults.tasks, help="updaters per process")
    parser.add_argument(
        "--rate", type=float, default=defaults.rate, help="updates/s per process (0: unpaced)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=defaults.settle,
        help="the most seconds to wait for convergence",
    )
    parser.add_argument("--workdir", type=Path, help="keep databases, ledgers and logs here")
    a = parser.parse_args(argv)
    config = FaultConfig(a.seed, a.updates, a.kills, a.cuts, a.stalls, a.tasks, a.rate, a.settle)
    return config, a.workdir


def summary(report: FaultReport) -> str:
    verdict = report.verdict
    kinds = {"cnt": "counter", "set": "AWSet", "map": "ORMap", "doc": "document"}
    lines = [
        f"seed {report.config.seed}: {report.kills} SIGKILLs, "
        f"{report.cut_connections} connections cut, {len(report.faults)} fault events",
        "",
        f"{'kind':<10}{'checked':>10}{'lost':>8}",
    ]
    for kind, name in kinds.items():
        lines.append(f"{name:<10}{verdict.checked.get(kind, 0):>10,}{len(verdict.lost[kind]):>8,}")
    lines.append(f"{'total':<10}{sum(verdict.checked.values()):>10,}{verdict.lost_total:>8,}")
    lines.append("")
    for kind, examples in verdict.examples().items():
        lines.append(f"lost {kinds[kind]}: " + "; ".join(examples))
    lines.extend(f"anomaly: {a}" for a in verdict.anomalies[:20])
    lines.append(
        f"after each SIGKILL, the database held {report.durable_checked - report.durable_lost:,}"
        f" of the {report.durable_checked:,} updates its process had acknowledged"
    )
    if report.reconnects or report.unhealed or report.interrupted:
        lines.append(
            f"links healed: {len(report.reconnects)} reconnected (slowest "
            f"{max(report.reconnects, default=0.0):.1f}s), {len(report.interrupted)} faulted "
            f"again first (after {max(report.interrupted, default=0.0):.1f}s at most)"
            + (f"; NEVER reconnected: {', '.join(report.unhealed)}" if report.unhealed else "")
        )
    settled = f"in {report.settled_in:.1f}s" if report.settled_in is not None else "NO"
    lines.append(f"converged: {'yes' if verdict.converged else 'NO'} (equal digests {settled})")
    lines.append(f"duration: {report.seconds:.1f}s")
    return "\n".join(lines)


def estimate(config: FaultConfig) -> str:
    """About how long a run takes: the paced updates, then starting and settling."""
    rate = config.rate * REPLICAS if config.rate else 1_000.0
    return f"about {config.updates / rate + STARTUP_S:.0f} s"


def targets(report: FaultReport) -> dict[str, bool]:
    """Issue 13's targets: no acknowledged update lost, nothing unwritten held, converged."""
    verdict = report.verdict
    checked = sum(verdict.checked.values())
    return {
        f"0 acknowledged updates lost ({verdict.lost_total:,} of {checked:,})": (
            verdict.lost_total == 0
        ),
        f"no replica holds what nobody wrote ({len(verdict.anomalies)} anomalies)": (
            not verdict.anomalies
        ),
        "the replicas converged": verdict.converged,
    }


def main(argv: list[str] | None = None) -> int:
    config, workdir = parse(argv)
    started = announce(estimate(config))
    keep = workdir is not None
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="crdtstate-faults-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = trio.run(run_faults, config, workdir, say)
    print(summary(report))
    if not report.verdict.ok:
        print(f"databases, ledgers and logs kept in {workdir}")
    elif not keep:
        shutil.rmtree(workdir)
    return finish(started, targets(report))


if __name__ == "__main__":
    raise SystemExit(main())
