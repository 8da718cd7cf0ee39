"""Node processes of the process benchmarks (bench_mesh, bench_saturation): each a script in
this directory that speaks JSON lines on stdout (its URL once listening, `ready` once its peers
are connected, then its measurements), started in a chain so that they form a full mesh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

HERE = Path(__file__).resolve().parent


class JsonLines:
    """The JSON objects a child process prints on `stream`, one a line."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self._pending = b""

    async def next(self) -> dict[str, Any]:
        """The next object; EOFError once the process closed its output."""
        while b"\n" not in self._pending:
            chunk = await self.stream.receive_some(1 << 20)
            if not chunk:
                raise EOFError("the child process exited")
            self._pending += chunk
        raw, self._pending = self._pending.split(b"\n", 1)
        return json.loads(raw)


class Proc:
    """One node process and the JSON lines it prints."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdout is not None
        self.process = process
        self.lines = JsonLines(process.stdout)

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
        return await self.lines.next()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


async def last_lines(procs: Sequence[Proc]) -> list[dict[str, Any]]:
    """The next JSON line of every process, read concurrently, in the order of `procs`.

    Read one after the other, a process whose line is not read yet blocks in `print` once
    its line outgrows the pipe (64 KiB on Linux: a node's measurements are often larger),
    and a blocked node's event loop sends nothing: its last pushes and acks wait until the
    parent reads it, and the nodes watching it see its final updates seconds late or never,
    which the benchmarks then reported as a mesh that did not keep up."""
    lines: list[dict[str, Any] | None] = [None] * len(procs)

    async def read(index: int) -> None:
        lines[index] = await procs[index].line()

    async with trio.open_nursery() as nursery:
        for index in range(len(procs)):
            nursery.start_soon(read, index)
    return [line for line in lines if line is not None]


@asynccontextmanager
async def node_chain(
    script: str, nodes: Sequence[Sequence[str]], library: str | None = None
) -> AsyncIterator[list[Proc]]:
    """Start `script` once per entry of `nodes` (its arguments), each given `--peer` for every
    node started before it, so that the nodes form a full mesh; yields them once all are
    ready (their URL and `ready` lines read), and kills them all on the way out."""
    procs: list[Proc] = []
    try:
        urls: list[str] = []
        for args in nodes:
            peers = [f"--peer={url}" for url in urls]
            procs.append(await Proc.start(script, *args, *peers, library=library))
            urls.append((await procs[-1].line())["url"])
        for proc in procs:
            await proc.line()  # ready
        yield procs
    finally:
        for proc in procs:
            await proc.stop()
