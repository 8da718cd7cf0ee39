"""Documents survive SIGKILL: an offline agent killed mid-edit reopens with every
acknowledged edit, keeps editing, and converges with another agent with nothing lost."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import trio

from crdtstate import Document, Replica
from transport import open_mesh

CHILD = Path(__file__).with_name("document_agent_child.py")
TOKEN = re.compile(r"\[[ab]\d{5}\]")
KILLS = 3


def acknowledged(records: Path) -> set[str]:
    return {line for line in records.read_text().splitlines() if len(line) == 8}


async def run_and_kill(db: Path, records: Path, run: int, rng: random.Random) -> None:
    """Start the child, let it make some hundreds of edits, SIGKILL it."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-P", str(CHILD), str(db), str(records), str(run)], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        with trio.fail_after(30):
            assert b"ready" in await process.stdout.receive_some(64)
            target = len(acknowledged(records)) + rng.randint(100, 400)
            while len(acknowledged(records)) < target:
                await trio.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL


async def test_an_agent_killed_mid_edit_reopens_with_every_edit_and_converges(
    tmp_path: Path,
) -> None:
    db, records = tmp_path / "b.db", tmp_path / "b.records"
    rng = random.Random(7)
    for run in range(KILLS):
        await run_and_kill(db, records, run, rng)
    recorded = acknowledged(records)
    assert len(recorded) >= 300

    async with Replica.open("a") as ra, Replica.open(path=db) as rb:
        notes_a, notes_b = ra.container("notes", Document), rb.container("notes", Document)
        text_b = (await notes_b.get())["body"]
        assert recorded <= set(TOKEN.findall(text_b))  # every acknowledged edit survived

        # Both keep editing offline: b right after its reopen (a reused client id or clock
        # would make a drop these), a from scratch.
        ours = [f"[a0{i:04d}]" for i in range(500)]
        after = [f"[b9{i:04d}]" for i in range(500)]

        def inserter(tokens: list[str]):
            def edit(doc: object) -> None:
                text = doc.text("body")  # type: ignore[attr-defined]
                for token in tokens:
                    text.insert(8 * rng.randint(0, len(text) // 8), token)

            return edit

        for i in range(0, 500, 10):
            await notes_a.update(inserter(ours[i : i + 10]))
            await notes_b.update(inserter(after[i : i + 10]))

        async with open_mesh(ra) as mesh_a, open_mesh(rb, listen=None, peers=[mesh_a.url]):
            with trio.fail_after(30):  # a hang guard, not a timing assertion
                while ra.digest() != rb.digest():
                    await trio.sleep(0.01)
        text_a, text_b = (await notes_a.get())["body"], (await notes_b.get())["body"]
        assert text_a == text_b
        tokens = TOKEN.findall(text_a)
        assert "".join(tokens) == text_a  # no token split, nothing else in the text
        assert len(tokens) == len(set(tokens))
        assert recorded | set(ours) | set(after) <= set(tokens)
