"""Every command's --help is written for its user: a description made of whole sentences (it
used to be a docstring's first line, cut mid-sentence), no internal jargon, and a help text
for every argument."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "crdtstate": ["-m", "crdtstate"],
    "crdtstate demo": ["-m", "crdtstate", "demo"],
    "crdtstate serve": ["-m", "crdtstate", "serve"],
    "crdtstate inspect": ["-m", "crdtstate", "inspect"],
    "simulations": ["-m", "simulations"],
    "bench_types": ["-m", "simulations.bench_types"],
    "bench_mesh": ["-m", "simulations.bench_mesh"],
    "bench_durability": ["-m", "simulations.bench_durability"],
    "bench_transmission": ["-m", "simulations.bench_transmission"],
    "bench_documents": ["-m", "simulations.bench_documents"],
    "bench_scale": ["-m", "simulations.bench_scale"],
    "bench_registry": ["-m", "simulations.bench_registry"],
    "bench_saturation": ["-m", "simulations.bench_saturation"],
    "bench_buffer": ["-m", "simulations.bench_buffer"],
    "bench_digests": ["-m", "simulations.bench_digests"],
    "simulations faults": ["-m", "simulations", "faults"],
    "mcp server": ["examples/mcp_replicas/server.py"],
    "mcp stock server": ["examples/mcp_replicas/stock_server.py"],
    "mcp client": ["examples/mcp_replicas/client.py"],
    "desktop demo": ["examples/desktop_agent/demo.py"],
}
JARGON = ("composition root",)


def sections(text: str) -> tuple[str, list[str]]:
    """(the description, the argument lines) of an argparse help text."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if re.fullmatch(r"[a-z][a-z ]*:", line))
    usage_end = next(i for i, line in enumerate(lines) if i and not line.strip())
    description = " ".join(line.strip() for line in lines[usage_end:first] if line.strip())
    return description, lines[first:]


def undocumented(argument_lines: list[str]) -> list[str]:
    """Arguments listed with no help text beside or below them."""
    missing = []
    for i, line in enumerate(argument_lines):
        if not re.match(r"  \S", line):
            continue
        beside = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        below = argument_lines[i + 1] if i + 1 < len(argument_lines) else ""
        if len(beside) < 2 and not re.match(r"   +\S", below):
            missing.append(line.strip())
    return missing


@pytest.mark.parametrize("name", COMMANDS)
def test_help_is_whole_sentences_and_documents_every_argument(name: str) -> None:
    result = subprocess.run(
        [sys.executable, *COMMANDS[name], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
    description, arguments = sections(result.stdout)
    assert description, "no description"
    assert description.endswith((".", ".)")), f"cut mid-sentence: {description!r}"
    assert not any(word in result.stdout for word in JARGON)
    assert undocumented(arguments) == []


def test_the_checks_catch_a_cut_description_and_a_bare_option() -> None:
    text = (
        "usage: x [-h] [--rate RATE]\n\nThe `x` command: the composition root (the one\n\n"
        "options:\n  -h, --help   show this help message and exit\n  --rate RATE\n"
    )
    description, arguments = sections(text)
    assert description == "The `x` command: the composition root (the one"
    assert undocumented(arguments) == ["--rate RATE"]
