"""Two desktop agents edit their memory offline, then meet on loopback and converge.

Their SQLite files live in a temporary folder, removed at the end.

python examples/desktop_agent/demo.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import AgentMemory


def show(title: str, snapshots: dict[str, dict]) -> None:
    print(f"--- {title} ---")
    for agent, snap in snapshots.items():
        print(f"[{agent}] model={snap['model']!r} temperature={snap['temperature']!r}")
        print(f"[{agent}] tags={snap['tags']}")
        for line in snap["notes"].splitlines():
            print(f"[{agent}]   | {line}")
    print()


async def main() -> int:
    with tempfile.TemporaryDirectory(prefix="agents-") as home:
        return await run(Path(home))


async def run(home: Path) -> int:
    laptop_db, desktop_db = home / "laptop.db", home / "desktop.db"
    async with (
        AgentMemory.open("laptop", laptop_db) as laptop,
        AgentMemory.open("desktop", desktop_db) as desktop,
    ):
        # Offline: each agent edits its own copy; nothing waits for the network.
        await laptop.note("laptop: draft the release notes")
        await laptop.tag("release", "docs")
        await laptop.configure(model="small-local", temperature=0.2)
        await desktop.note("desktop: benchmark the sync engine")
        await desktop.tag("perf", "docs")
        await desktop.untag("docs")  # only removes what the desktop has seen: its own add
        await desktop.configure(temperature=0.7)  # written later: wins on both
        agents = {"laptop": laptop, "desktop": desktop}
        show("before: offline", {n: await a.snapshot() for n, a in agents.items()})

        async with laptop.sync_with() as mesh, desktop.sync_with(peers=[mesh.url], listen=None):
            with trio.fail_after(10):
                while laptop.replica.digest() != desktop.replica.digest():
                    await trio.sleep(0.01)
            await laptop.note("laptop: saw the benchmark note, linking it")
            with trio.fail_after(10):
                while laptop.replica.digest() != desktop.replica.digest():
                    await trio.sleep(0.01)
        after = {n: await a.snapshot() for n, a in agents.items()}
        show("after: synced", after)
        same = after["laptop"] == after["desktop"]
        print("converged: identical memory on both agents" if same else "DIVERGED")
    # The laptop restarts: its memory comes back from its SQLite file, synced edits included.
    async with AgentMemory.open("laptop", laptop_db) as laptop:
        kept = await laptop.snapshot() == after["laptop"]
    print(
        f"after a restart the laptop reads its memory back from {laptop_db.name}: "
        + ("unchanged" if kept else "DIFFERENT")
    )
    return 0 if same and kept else 1


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    sys.exit(trio.run(main))
