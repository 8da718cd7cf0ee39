"""Run a simulation scenario with a progress bar, print its table, and write
`<out>/<scenario>.png` (and the table as .txt).

    python -m simulations <scenario> [--seed N] [--out DIR]

`python -m simulations faults [--seed N] [--updates N] ...` runs the fault-injection run over
real processes instead (`simulations/faults`): it prints the updates checked and lost.

Needs the `sim` extra (matplotlib, tqdm): `pip install -e '.[sim]'`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args_given = sys.argv[1:] if argv is None else argv
    if args_given[:1] == ["faults"]:
        from .faults.__main__ import main as faults

        return faults(args_given[1:])
    from .scenarios import SCENARIOS
    from .trio_network import trio_scenario

    scenarios = {**SCENARIOS, "trio": trio_scenario}
    parser = argparse.ArgumentParser(
        prog="python -m simulations", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "scenario",
        choices=sorted(scenarios),
        help="partition, unreachable, flaky, trio or bench (see README.md, Simulations)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the same seed replays the same run")
    parser.add_argument("--out", type=Path, default=Path("out"), help="where the PNG goes")
    args = parser.parse_args(argv)
    try:
        from tqdm import tqdm

        from .output import render_plot, render_table
    except ImportError as exc:
        print(
            f"missing {exc.name}: install the extra with pip install -e '.[sim]'", file=sys.stderr
        )
        return 2

    with tqdm(total=100, desc=args.scenario, unit="%", file=sys.stderr, leave=False) as bar:

        def progress(fraction: float) -> None:
            bar.update(max(0, round(fraction * 100) - bar.n))

        report = scenarios[args.scenario](args.seed, progress)
    table = render_table(report)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.scenario}.txt").write_text(table + "\n")
    png = render_plot(report, args.out / f"{args.scenario}.png")
    print(f"\nplot: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
