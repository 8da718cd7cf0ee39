"""The README's Python examples run as pasted, and `crdtstate demo` converges and exits 0."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PROGRAMS = [
    block for block in re.findall(r"```python\n(.*?)```", README, re.S) if "trio.run" in block
]


def test_readme_has_runnable_examples() -> None:
    assert len(PROGRAMS) >= 2


@pytest.mark.parametrize("index", range(len(PROGRAMS)))
def test_readme_example_runs_and_prints_what_it_says(index: int, tmp_path: Path) -> None:
    program = PROGRAMS[index]
    script = tmp_path / "example.py"
    script.write_text(program)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    # Every "# value" comment on a print line, and every "It prints `...`" promise, holds.
    for promised in re.findall(r"print\(.*?\)\s+# (.+)", program):
        assert promised.strip() in result.stdout
    if index == 0:
        for promised in re.findall(r"`([^`]+)`", README.split("It prints", 1)[1].split("\n\n")[0]):
            assert promised in result.stdout


def test_demo_converges_and_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crdtstate", "demo", "--updates", "10"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "requests = 30 on every replica: OK" in result.stdout
