"""An agent editing a durable document offline until it is killed (run by
tests/test_documents_kill.py).

    python document_agent_child.py DB RECORDS RUN

It opens (or reopens) replica "b" at DB and inserts 8-character tokens "[b<run><n:04>]" at token
boundaries of the text "body", five per update. After each `update` returns it appends the
update's tokens to RECORDS in one write, so RECORDS lists exactly the acknowledged edits.
"""

from __future__ import annotations

import os
import random
import sys

import trio

from crdtstate import Document, Replica


async def main(db: str, records: str, run: int) -> None:
    fd = os.open(records, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    rng = random.Random(run)
    async with Replica.open("b", db) as replica:
        notes = replica.container("notes", Document)
        print("ready", flush=True)
        made = 0
        while True:
            tokens = [f"[b{run}{made + i:04d}]" for i in range(5)]
            made += 5

            def edit(doc: object, tokens: list[str] = tokens) -> None:
                text = doc.text("body")  # type: ignore[attr-defined]
                for token in tokens:
                    text.insert(8 * rng.randint(0, len(text) // 8), token)

            await notes.update(edit)
            os.write(fd, ("\n".join(tokens) + "\n").encode())


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
