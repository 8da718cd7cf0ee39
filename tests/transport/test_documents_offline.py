"""Two agents edit one document offline for thousands of edits, then converge over websockets."""

from __future__ import annotations

import random
import re

import trio

from crdtstate import Document, Replica
from transport import open_mesh

EDITS = 2000  # per agent per round
PER_UPDATE = 20
TOKEN = re.compile(r"\[[ab]\d{5}\]")


class Agent:
    """Writes 8-character tokens at token boundaries (so none is ever split), deletes some
    of its own, and remembers which should survive."""

    def __init__(self, replica: Replica, seed: int) -> None:
        self.replica = replica
        self.notes = replica.container("notes", Document)
        self.rng = random.Random(seed)
        self.made = 0
        self.alive: set[str] = set()

    async def edit_offline(self, edits: int) -> None:
        for _ in range(edits // PER_UPDATE):
            await self.notes.update(self._batch)

    def _batch(self, doc: object) -> None:
        text = doc.text("body")  # type: ignore[attr-defined]
        current = str(text)  # mirrored locally: every token is 8 characters long
        for _ in range(PER_UPDATE):
            mine = [at for at in range(0, len(current), 8) if current[at : at + 8] in self.alive]
            if mine and self.rng.random() < 0.15:
                at = self.rng.choice(mine)
                self.alive.discard(current[at : at + 8])
                del text[at : at + 8]
                current = current[:at] + current[at + 8 :]
            else:
                token = f"[{self.replica.id}{self.made:05d}]"
                self.made += 1
                at = 8 * self.rng.randint(0, len(current) // 8)
                text.insert(at, token)
                current = current[:at] + token + current[at:]
                self.alive.add(token)
        assert str(text) == current


async def converge(a: Agent, b: Agent) -> None:
    async with open_mesh(a.replica) as mesh_a, open_mesh(b.replica, peers=[mesh_a.url]):
        with trio.fail_after(30):  # a hang guard, not a timing assertion
            while a.replica.digest() != b.replica.digest():
                await trio.sleep(0.01)


async def test_thousands_of_offline_edits_each_converge_after_reconnect_with_nothing_lost() -> None:
    async with Replica.open("a") as ra, Replica.open("b") as rb:
        a, b = Agent(ra, 1), Agent(rb, 2)
        for _ in range(2):  # offline, reconnect, offline again, reconnect
            async with trio.open_nursery() as nursery:
                nursery.start_soon(a.edit_offline, EDITS)
                nursery.start_soon(b.edit_offline, EDITS)
            assert (await a.notes.get())["body"] != (await b.notes.get())["body"]
            await converge(a, b)
            text_a = (await a.notes.get())["body"]
            assert text_a == (await b.notes.get())["body"]
            tokens = TOKEN.findall(text_a)
            assert len(tokens) == len(set(tokens))
            assert set(tokens) == a.alive | b.alive
            assert "".join(tokens) == text_a  # no token split, nothing else in the text
        assert a.made + b.made > 2 * EDITS
