"""The README's Python blocks run as pasted and print what the README says they print, and
`crdtstate demo` converges and exits 0.

Every ```python block of README.md is either a whole program followed by "It prints:" and a
```text block holding its exact standard output, or is marked as a fragment by a line
`<!-- fragment: why -->` right above it. Each program runs as pasted in a fresh interpreter,
in an empty temporary folder, against this checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```python\n(.*?)^```\n", re.S | re.M)
FRAGMENT = re.compile(r"<!-- fragment: (\S.*?) -->\n\Z")
PRINTS = re.compile(r"\nIt prints:\n\n```text\n(.*?)^```\n", re.S | re.M)
MAX_FRAGMENTS = 2  # examples should run; a fragment is the exception, and says why


@dataclass(frozen=True)
class Example:
    line: int  # of the opening fence in README.md
    code: str
    fragment: str | None  # why it cannot run alone
    prints: str | None  # its exact standard output


def examples(text: str) -> list[Example]:
    found = []
    for match in BLOCK.finditer(text):
        fragment = FRAGMENT.search(text, 0, match.start())
        prints = PRINTS.match(text, match.end())
        found.append(
            Example(
                line=text.count("\n", 0, match.start()) + 1,
                code=match.group(1),
                fragment=fragment.group(1) if fragment else None,
                prints=prints.group(1) if prints else None,
            )
        )
    return found


EXAMPLES = examples(README)
PROGRAMS = [e for e in EXAMPLES if e.fragment is None]


def test_every_python_block_is_a_program_with_its_output_or_a_marked_fragment() -> None:
    assert len(PROGRAMS) >= 6
    for example in EXAMPLES:
        where = f"README.md line {example.line}"
        if example.fragment is not None:
            assert example.prints is None, f"{where}: a fragment cannot promise output"
        else:
            assert example.prints, f"{where}: no 'It prints:' block after it"
            runs = ("trio.run(main)", "asyncio.run(main())")
            assert any(r in example.code for r in runs), f"{where}: never runs main"
    assert len(EXAMPLES) - len(PROGRAMS) <= MAX_FRAGMENTS


def test_the_parser_sees_markers_and_unclosed_blocks() -> None:
    """The extraction itself: a marker skips a block, a missing output or fence is caught."""
    text = (
        "<!-- fragment: needs a peer -->\n```python\nx = 1\n```\n\n"
        "```python\nprint(2)\n```\n\nIt prints:\n\n```text\n2\n```\n\n"
        "```python\nprint(3)\n```\n\nIt prints `3`.\n"
    )
    found = examples(text)
    assert [(e.fragment, e.prints) for e in found] == [
        ("needs a peer", None),
        (None, "2\n"),
        (None, None),
    ]
    # A block left open swallows what follows up to the next fence: its code then holds prose.
    assert "## Next" in examples("```python\nprint(1)\n\n## Next\n```\n")[0].code


@pytest.mark.parametrize("example", PROGRAMS, ids=lambda e: f"line{e.line}")
def test_readme_example_runs_and_prints_what_it_says(example: Example, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(example.code)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == example.prints
    # The "# value" comments on print lines agree with the output too.
    for promised in re.findall(r"print\(.*?\)\s+# (.+)", example.code):
        assert promised.strip() in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["example.py"]  # nothing left behind


def test_demo_converges_and_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crdtstate", "demo", "--updates", "10"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "requests = 30 on every replica: OK" in result.stdout
