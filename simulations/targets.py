"""What every benchmark shares: it says up front about how long it takes, reports progress on
stderr, and follows one exit-status rule.

Exit status: 0 when the run finished and every target it checks was met (or it checks none);
1 when a target was missed (a last line "target MISSED: ..." says which); 2 for a usage error
(argparse's). So `python -m simulations.bench_x && echo ok` means "ran, and on target".
"""

from __future__ import annotations

import argparse
import sys
import time


def announce(estimate: str) -> float:
    """Print about how long the run takes (`estimate`, e.g. "about 40 s"); the start time."""
    print(f"(takes {estimate} on an idle 2-vCPU machine; progress on stderr)\n", flush=True)
    return time.perf_counter()


def progress(message: str) -> None:
    """One line of progress on stderr, so the figures on stdout stay a clean table."""
    print(f"... {message}", file=sys.stderr, flush=True)


def finish(started: float, targets: dict[str, bool]) -> int:
    """Print the elapsed time and each target's verdict; the exit status of the rule above."""
    print(f"\ntook {time.perf_counter() - started:.0f} s")
    for description, met in targets.items():
        print(f"target {'met' if met else 'MISSED'}: {description}")
    return 0 if all(targets.values()) else 1


def bench_parser(module: str, doc: str | None, quick: str | None = None) -> argparse.ArgumentParser:
    """A benchmark's argument parser, named as it is run (`python -m simulations.bench_x`)
    and described by the first paragraph of `doc`; with `quick`, the help of a `--quick` flag
    (a short run, for CI or a smoke test)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}", description=(doc or "").split("\n\n")[0]
    )
    if quick is not None:
        parser.add_argument("--quick", action="store_true", help=quick)
    return parser
