"""Mesh latency benchmark: three replica processes on loopback.

Prints, side by side in one run: the round trip of a bare `websockets.trio` echo between two
processes (the floor), the latency from `update` on one replica to the change reaching a
subscriber on each of the two others (p50, p99) at a fixed rate, and the highest rate at which
the watchers keep up (their lag at the end of the run stays under `--max-lag` ms).

    python -m simulations.bench_mesh [--rate 1000] [--duration 3]

Takes about 30 s with the defaults. Exit status: see `simulations/targets.py` (target: the
watchers keep up at --rate).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio
from websockets.trio.client import connect

from simulations.targets import announce, finish, progress

HERE = Path(__file__).resolve().parent


class Proc:
    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._pending = b""

    @classmethod
    async def start(cls, script: str, *args: str, library: str | None = None) -> Proc:
        """Run `script` (in this directory); `library`: import crdtstate and transport from
        that checkout instead (a baseline, e.g. main's, run by the same script)."""
        env = None if library is None else {**os.environ, "PYTHONPATH": library}
        process = await trio.lowlevel.open_process(
            [sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE, env=env
        )
        return cls(process)

    async def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while b"\n" not in self._pending:
            chunk = await self.process.stdout.receive_some(1 << 20)
            if not chunk:
                raise EOFError("process exited early")
            self._pending += chunk
        raw, self._pending = self._pending.split(b"\n", 1)
        return json.loads(raw)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of `values` (NaN for none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def echo_round_trips(count: int) -> list[float]:
    server = await Proc.start("echo_node.py")
    try:
        url = (await server.line())["url"]
        async with connect(url, compression=None) as ws:
            payload = b"x" * 40  # about the size of a one-increment delta frame
            for _ in range(50):
                await ws.send(payload)
                await ws.recv()
            trips = []
            for _ in range(count):
                t0 = time.perf_counter()
                await ws.send(payload)
                await ws.recv()
                trips.append((time.perf_counter() - t0) * 1000)
            return trips
    finally:
        await server.stop()


async def mesh_run(rate: float, duration: float) -> dict[str, Any]:
    """Latencies (ms) from the updater to each watcher, and each watcher's final lag (ms)."""
    common = ["--rate", str(rate), "--duration", str(duration)]
    updater = await Proc.start("mesh_node.py", "--id", "u", "--role", "updater", *common)
    procs = [updater]
    try:
        url_u = (await updater.line())["url"]
        w1 = await Proc.start(
            "mesh_node.py", "--id", "w1", "--role", "watcher", "--peer", url_u, *common
        )
        procs.append(w1)
        url_w1 = (await w1.line())["url"]
        w2 = await Proc.start(
            "mesh_node.py",
            "--id",
            "w2",
            "--role",
            "watcher",
            "--peer",
            url_u,
            "--peer",
            url_w1,
            *common,
        )
        procs.append(w2)
        await w2.line()
        for p in procs:
            await p.line()  # ready
        results = {}
        for p in procs:
            line = await p.line()
            results[line["id"]] = line["times"]
    finally:
        for p in procs:
            await p.stop()
    made = results["u"]
    latencies: list[float] = []
    lags = []
    for watcher in ("w1", "w2"):
        seen = results[watcher]
        latencies += [(s - m) * 1000 for m, s in zip(made, seen, strict=False)]
        lags.append((seen[-1] - made[-1]) * 1000 if len(seen) == len(made) else float("inf"))
    achieved = len(made) / (made[-1] - made[0]) if len(made) > 1 else 0.0
    return {
        "latencies": latencies,
        "lag": max(lags),
        "achieved": achieved,
        "complete": all(len(results[w]) == len(made) for w in ("w1", "w2")),
    }


async def main(args: argparse.Namespace) -> int:
    print("crdtstate mesh benchmark: 3 replica processes on loopback")
    # Each mesh run also starts three processes and lets the watchers drain (about 2 s).
    estimate = 5 + args.duration + 2 + len(args.rates) * (args.ramp_duration + 2)
    started = announce(f"about {estimate:.0f} s")
    progress("bare websockets echo round trips")
    trips = await echo_round_trips(2000)
    floor_p50, floor_p99 = percentile(trips, 0.5), percentile(trips, 0.99)
    print(f"{'measure':<44}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'bare websockets.trio echo round trip':<44}{floor_p50:>10.3f}{floor_p99:>10.3f}")
    progress(f"{args.rate:.0f} updates/s for {args.duration:g} s")
    run = await mesh_run(args.rate, args.duration)
    p50, p99 = percentile(run["latencies"], 0.5), percentile(run["latencies"], 0.99)
    label = f"update -> remote subscriber @ {args.rate:.0f}/s"
    print(f"{label:<44}{p50:>10.3f}{p99:>10.3f}")
    mean = statistics.mean(run["latencies"])
    print(f"\np50 latency / echo round trip: {p50 / floor_p50:.2f}x   (mean {mean:.3f} ms)")

    print(f"\nsustained rate (watchers' lag at the end under {args.max_lag:.0f} ms):")
    print(
        f"{'asked /s':>10}{'made /s':>10}{'p50 ms':>10}{'p99 ms':>10}{'end lag ms':>12}  keeps up"
    )
    best = 0.0
    for rate in args.rates:
        progress(f"{rate:.0f} updates/s for {args.ramp_duration:g} s")
        r = await mesh_run(rate, args.ramp_duration)
        ok = r["complete"] and r["lag"] < args.max_lag
        print(
            f"{rate:>10.0f}{r['achieved']:>10.0f}{percentile(r['latencies'], 0.5):>10.2f}"
            f"{percentile(r['latencies'], 0.99):>10.2f}{r['lag']:>12.1f}  {'yes' if ok else 'no'}"
        )
        if ok:
            best = max(best, r["achieved"])
        else:
            break
    print(f"\nhighest update rate at which all three keep converging: {best:.0f} updates/s")
    kept_up = run["complete"] and run["lag"] < args.max_lag
    return finish(started, {f"the watchers keep up at {args.rate:.0f} updates/s": kept_up})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000, help="updates/s of the latency run")
    parser.add_argument(
        "--duration", type=float, default=3.0, help="seconds of the latency run (default: 3)"
    )
    parser.add_argument(
        "--ramp-duration", type=float, default=2.0, help="seconds of each sustained-rate run"
    )
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[1000, 2000, 4000, 8000, 16000, 32000],
        help="updates/s tried in turn until the watchers fall behind",
    )
    parser.add_argument(
        "--max-lag", type=float, default=100.0, help="ms of lag at the end that still keeps up"
    )
    sys.exit(trio.run(main, parser.parse_args()))
