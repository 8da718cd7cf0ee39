"""The desktop agent example runs and its two agents converge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "examples" / "desktop_agent" / "demo.py"


def test_the_desktop_agent_demo_converges_and_leaves_no_folder_behind(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # where tempfile puts the agents' folder
    result = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    after = result.stdout.split("--- after: synced ---")[1]
    assert after.count("laptop: saw the benchmark note, linking it") == 2
    assert after.count("tags=['docs', 'perf', 'release']") == 2
    assert "converged: identical memory on both agents" in result.stdout
    assert "reads its memory back from laptop.db: unchanged" in result.stdout
    assert list(tmp_path.iterdir()) == []
