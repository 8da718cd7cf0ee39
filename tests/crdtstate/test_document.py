"""The Document kind: a pycrdt Doc as a delta-state CRDT, and as a replicated container."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdtstate import Document, Replica, codec
from crdtstate.containers import handle_for
from crdtstate.errors import DecodeError
from crdtstate.types.yjs import ybinary
from crdtstate.types.yjs.clientids import ClientIdAllocator
from crdtstate.types.yjs.document import COMPACT_MIN_BYTES

pytestmark = pytest.mark.anyio


def edit(doc: Document, client: int, rng: random.Random, n: int = 3) -> Document:
    """Apply `n` random text edits as one local transaction; return the delta."""
    recorded: list[Document] = []
    ids = ClientIdAllocator(f"r{client}", epoch=client)
    roots = handle_for(doc, f"r{client}", recorded.append)
    with doc.updating(f"r{client}", recorded.append, ids):
        text = roots.text("body")
        for _ in range(n):
            if len(text) and rng.random() < 0.3:
                at = rng.randrange(len(text))
                del text[at : min(len(text), at + rng.randint(1, 3))]
            else:
                text.insert(rng.randint(0, len(text)), rng.choice("abcxyz"))
    return recorded[0] if recorded else Document()


def wire(doc: Document) -> Document:
    return codec.decode(codec.encode(doc), Document)  # type: ignore[return-value]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.permutations(range(6)))
def test_deltas_in_any_order_and_multiplicity_converge(seed: int, order: list[int]) -> None:
    rng = random.Random(seed)
    writers = [Document() for _ in range(3)]
    deltas = [wire(edit(writers[i % 3], i % 3 + 1, rng)) for i in range(6)]
    forward, backward = Document(), Document()
    for i in order:
        forward.merge(deltas[i])
        forward.merge(deltas[i])  # duplicates change nothing
    for delta in reversed(deltas):
        backward.merge(delta)
    assert forward == backward
    assert forward.value == backward.value
    assert not forward.merge(backward)


def test_merge_reports_change_exactly() -> None:
    rng = random.Random(1)
    a, b = Document(), Document()
    delta = edit(a, 1, rng)
    assert b.merge(delta)
    assert not b.merge(delta)
    assert not b.merge(Document())


def test_delta_since_ships_what_the_peer_lacks_and_nothing_when_it_lacks_nothing() -> None:
    rng = random.Random(2)
    x, y = Document(), Document()
    for _ in range(5):
        edit(x, 1, rng)
        edit(y, 2, rng)
    shared = edit(x, 1, rng, n=4)
    y.merge(shared)
    joined = x.copy()
    joined.merge(y)
    y.merge(wire(x.delta_since(y.digest())))
    assert y == joined
    assert x.copy().delta_since(joined.digest()).is_bottom()
    assert joined.delta_since(joined.digest()).is_bottom()


def test_delta_since_carries_deletions_the_state_vector_cannot_see() -> None:
    x, y = Document(), Document()
    edit(x, 1, random.Random(3), n=10)
    y.merge(x)
    recorded: list[Document] = []
    roots = handle_for(x, "r1", recorded.append)
    with x.updating("r1", recorded.append, ClientIdAllocator("r1", 1)):
        del roots.text("body")[0:4]
    assert x.state_vector() == y.state_vector()  # a deletion does not move the vector
    delta = x.delta_since(y.digest())
    assert not delta.is_bottom()
    y.merge(wire(delta))
    assert y.value == x.value and y == x


def test_novel_is_the_exact_unknown_part() -> None:
    rng = random.Random(4)
    a, b = Document(), Document()
    first = edit(a, 1, rng, n=12)
    second = edit(a, 1, rng)
    b.merge(first)
    both = Document(first.to_wire())
    both.merge(second)  # a delta holding what b has and what it lacks
    part = b.novel(wire(both))
    assert part is not None
    assert part.to_wire() != both.to_wire()  # cut down to what b lacks
    b.merge(part)
    assert b == a
    assert b.novel(wire(both)) is None
    # a deletion-only update: novel for exactly the deletions b lacks
    recorded: list[Document] = []
    roots = handle_for(a, "r1", recorded.append)
    with a.updating("r1", recorded.append, ClientIdAllocator("r1", 1)):
        assert len(roots.text("body")) >= 2
        del roots.text("body")[0:2]
    deletion = recorded[0]
    assert ybinary.deletions_only(deletion.to_wire())
    assert b.novel(deletion) is not None
    b.merge(deletion)
    assert b.novel(deletion) is None


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff" * 12,
        b"\x01\x01\x07",
        "text",
        12,
        [],
        [b"\x00\x00", "text"],
        [b"\x00\x00", b"\x01\x01\x07"],
        [b"\x00\x00"] * (2**16 + 1),
    ],
    ids=[
        "empty",
        "ones",
        "truncated",
        "str",
        "int",
        "no-updates",
        "list-with-str",
        "list-with-truncated",
        "too-many-updates",
    ],
)
def test_malformed_updates_raise_decode_error(payload: object) -> None:
    with pytest.raises(DecodeError):
        codec.from_wire([codec.FORMAT_VERSION, "document", payload])


def test_truncations_of_a_real_update_raise_decode_error() -> None:
    update = edit(Document(), 1, random.Random(5), n=20).to_wire()
    for cut in range(1, len(update)):
        with pytest.raises(DecodeError):
            Document.from_wire(update[:cut])


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        [b"\x01", b"x" * 16],
        [b"\x00", b"short"],
        ["sv", b"x" * 16],
        [b"\x05\x01", 1],
        [b"\x00", b"x" * 16, b"\x03\x01"],
        [b"\x00", b"x" * 16, b"\x00\x00"],
    ],
)
def test_malformed_digests_raise_decode_error(raw: object) -> None:
    with pytest.raises(DecodeError):
        codec.digest_from_wire("document", raw)


def test_fingerprint_is_canonical_across_histories() -> None:
    rng = random.Random(6)
    deltas = [edit(Document(), i % 2 + 1, rng) for i in range(8)]
    one, other = Document(), Document()
    for d in deltas:
        one.merge(d)
    combined = Document()
    for d in reversed(deltas):
        combined.merge(d)
    other.merge(Document(combined.to_wire()))
    assert one.fingerprint() == other.fingerprint()


def test_client_ids_are_32_bit_distinct_per_run_and_skip_ids_in_use() -> None:
    ids = {ClientIdAllocator("agent", epoch).client_id() for epoch in range(200)}
    assert len(ids) == 200 and all(0 < i < 2**32 for i in ids)
    alloc = ClientIdAllocator("agent", 7)
    taken = alloc.client_id()
    assert alloc.client_id(avoid={taken}) not in (taken, 0)
    assert ClientIdAllocator("agent", 7).client_id() == taken  # derived, not random


def test_long_histories_compact_into_one_update() -> None:
    doc = Document()
    rng = random.Random(7)
    for _ in range(600):
        edit(doc, 1, rng, n=8)
    assert doc._log_bytes <= max(COMPACT_MIN_BYTES, 2 * doc._compacted_bytes) + 1024
    rebuilt = Document(doc.to_wire())
    assert rebuilt.value == doc.value


async def test_container_update_get_subscribe_and_remote_origin() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        notes = a.container("notes", Document)
        theirs = b.container("notes", Document)

        def write(d: object) -> None:
            d.text("body").insert(0, "hello")  # type: ignore[attr-defined]
            d.array("items").append("milk")  # type: ignore[attr-defined]
            d.map("meta")["owner"] = "ann"  # type: ignore[attr-defined]

        assert await notes.update(write) == {
            "body": "hello",
            "items": ["milk"],
            "meta": {"owner": "ann"},
        }
        async with theirs.subscribe() as changes:
            await b.apply_remote(a.buffer.collect(0), origin="a")
            change = await changes.__anext__()
        assert change.origin == "a"
        assert change.value == await notes.get()
        assert a.digest() == b.digest()
        assert await b.apply_remote(a.buffer.collect(0), origin="a") is None  # RR


async def test_raising_updater_changes_nothing_and_later_updates_still_sync() -> None:
    async with Replica.open("a") as a, Replica.open("b") as b:
        notes = a.container("notes", Document)
        await notes.update(lambda d: d.text("body").insert(0, "kept"))
        before, digest, sequence = await notes.get(), a.digest(), a.buffer.sequence

        def fail(d: object) -> None:
            d.text("body").insert(0, "lost ")  # type: ignore[attr-defined]
            d.map("meta")["x"] = 1  # type: ignore[attr-defined]
            raise RuntimeError("updater failed")

        with pytest.raises(RuntimeError):
            await notes.update(fail)
        assert (await notes.get(), a.digest(), a.buffer.sequence) == (before, digest, sequence)
        await notes.update(lambda d: d.text("body").insert(4, "!"))
        await b.apply_remote(a.buffer.collect(0), origin="a")
        assert await b.container("notes", Document).get() == {"body": "kept!"}


def test_delete_set_union_and_minus_agree_with_sets_of_clocks() -> None:
    rng = random.Random(8)
    for _ in range(200):
        a: ybinary.DeleteSet = {}
        b: ybinary.DeleteSet = {}
        clocks_a: set[int] = set()
        clocks_b: set[int] = set()
        for ds, clocks in ((a, clocks_a), (b, clocks_b)):
            for _ in range(rng.randint(0, 6)):
                clock, length = rng.randint(0, 30), rng.randint(1, 5)
                ybinary.union(ds, {1: [(clock, length)]})
                clocks.update(range(clock, clock + length))
        expand = lambda ds: {c for s, n in ds.get(1, []) for c in range(s, s + n)}  # noqa: E731
        assert expand(a) == clocks_a
        assert a.get(1, []) == sorted(a.get(1, []))
        ranges = a.get(1, [])
        assert all(s + n < t for (s, n), (t, _) in itertools.pairwise(ranges))
        assert expand(ybinary.minus(a, b)) == clocks_a - clocks_b


def reference_value(doc: Document) -> dict[str, object]:
    """The value of an independent copy, read at once: its own `Doc`, built from the log.

    (A copy keeps the root types `doc` learned: a text that was emptied cannot be typed
    again from the wire, where Yjs does not say which type a root is.)
    """
    return dict(doc.copy().value)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.lists(st.sampled_from(["local", "remote", "fail"]), max_size=12))
async def test_snapshots_keep_the_value_of_their_moment(seed: int, steps: list[str]) -> None:
    """`update()` and `get()` return snapshots read lazily; whatever happens afterwards
    (local updates, merged remote edits, failed updaters), each reads as the document did
    when it was taken, and the delete set tracked lazily still agrees with a fresh copy's."""
    rng = random.Random(seed)
    other = Document()
    async with Replica.open("a") as a:
        notes = a.container("notes", Document)
        taken: list[tuple[object, dict[str, object]]] = []

        def write(d: object) -> None:
            text = d.text("body")  # type: ignore[attr-defined]
            if len(text) and rng.random() < 0.4:
                del text[0 : rng.randint(1, len(text))]
            text.insert(rng.randint(0, len(text)), rng.choice(["ab", "xyz", "q"]))
            d.map("meta")["n"] = rng.randint(0, 9)  # type: ignore[attr-defined]

        for step in steps:
            if step == "local":
                snapshot = await notes.update(write)
            elif step == "remote":
                await a.apply_remote({"notes": wire(edit(other, 7, rng))}, origin="b")
                snapshot = await notes.get()
            else:

                def fail(d: object) -> None:
                    write(d)
                    raise RuntimeError("updater failed")

                with pytest.raises(RuntimeError):
                    await notes.update(fail)
                snapshot = await notes.get()
            taken.append((snapshot, reference_value(notes.state)))
            assert notes.state.digest() == wire(notes.state).digest()
        for snapshot, expected in taken:
            assert dict(snapshot) == expected  # type: ignore[call-overload]


async def test_an_ignored_update_result_reads_nothing_and_a_kept_one_reads_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []
    read_root = Document.read_root
    monkeypatch.setattr(
        Document,
        "read_root",
        lambda self, name, cls: reads.append(name) or read_root(self, name, cls),
    )
    async with Replica.open("a") as a:
        notes = a.container("notes", Document)
        for word in ["one ", "two ", "three "]:
            await notes.update(lambda d, word=word: d.text("body").insert(0, word))
        assert reads == []
        kept = await notes.update(lambda d: d.map("meta").update({"k": 1}))
        await notes.update(lambda d: d.text("body").insert(0, "four "))
        assert reads == ["body", "meta"]  # read once, just before the document changed
        assert kept == {"body": "three two one ", "meta": {"k": 1.0}}
        assert json.dumps(dict(kept)) == '{"body": "three two one ", "meta": {"k": 1.0}}'
        assert reads == ["body", "meta"]
