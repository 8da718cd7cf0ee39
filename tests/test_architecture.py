"""The layering of DESIGN §2, read from the source: no import circle, no upward import, and
small modules. Imports inside functions count; those under `if TYPE_CHECKING:` do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture import Edge, cycles, import_edges, module_files, within

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400

#: (importing package, what it must not import, modules of that package exempt from the rule)
FORBIDDEN: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    # The CRDT types are pure: no containers, replica, storage, codec, event loop or I/O.
    (
        "crdtstate.types",
        (
            "crdtstate.containers",
            "crdtstate.recipes",
            "crdtstate.replica",
            "crdtstate.replica_state",
            "crdtstate.storage",
            "crdtstate.buffer",
            "crdtstate.codec",
            "crdtstate.cli",
            "trio",
            "anyio",
            "asyncio",
            "sqlite3",
        ),
        (),
    ),
    # Containers sit on the types; the replica hands them a narrow port, not itself.
    (
        "crdtstate.containers",
        ("crdtstate.replica", "crdtstate.storage", "crdtstate.recipes", "crdtstate.cli"),
        (),
    ),
    ("crdtstate.storage", ("crdtstate.containers", "crdtstate.replica", "crdtstate.recipes"), ()),
    ("crdtstate.replica_state", ("crdtstate.containers", "crdtstate.storage", "trio", "anyio"), ()),
    ("crdtstate.buffer", ("crdtstate.containers", "crdtstate.storage", "trio", "anyio"), ()),
    # The library is written against anyio, so it runs on trio and on asyncio alike; only
    # transport.websocket picks websockets' implementation for the running loop.
    ("crdtstate", ("trio", "asyncio"), ()),
    (
        "transport",
        ("trio", "asyncio", "websockets.trio", "websockets.asyncio"),
        ("transport.websocket",),
    ),
    # crdtstate imports nothing above it, except its composition root (DESIGN §2).
    ("crdtstate", ("antientropy", "transport", "simulations", "examples"), ("crdtstate.cli",)),
    ("crdtstate", ("crdtstate.cli",), ("crdtstate.__main__",)),
    # The protocol is Sans-I/O: no event loop, no sockets; it reads a replica through the
    # narrow `SyncSource` and never reaches for the replica, its buffer or its containers.
    (
        "antientropy",
        (
            "transport",
            "simulations",
            "examples",
            "trio",
            "anyio",
            "asyncio",
            "sniffio",
            "websockets",
            "socket",
            "crdtstate.replica",
            "crdtstate.replica_state",
            "crdtstate.buffer",
            "crdtstate.containers",
            "crdtstate.storage",
        ),
        (),
    ),
    ("transport", ("simulations", "examples"), ()),
    ("simulations", ("examples",), ()),
]


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return import_edges(ROOT, module_files(ROOT))


def test_no_import_circle(edges: list[Edge]) -> None:
    assert cycles(edges) == []


def upward(edges: list[Edge]) -> list[str]:
    bad = []
    for edge in edges:
        for package, forbidden, exempt in FORBIDDEN:
            if not within(edge.source, package) or any(within(edge.source, e) for e in exempt):
                continue
            if any(within(edge.target, f) for f in forbidden):
                bad.append(f"{edge.source}:{edge.line} imports {edge.target}")
    return sorted(set(bad))


def test_no_upward_import(edges: list[Edge]) -> None:
    assert upward(edges) == []


def test_no_module_over_the_size_limit() -> None:
    long = {
        name: n
        for name, path in module_files(ROOT).items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checks_catch_a_circle_and_an_upward_import(tmp_path: Path) -> None:
    """The checks themselves can fail: a planted circle (one import inside a function) and a
    type importing trio are both reported."""
    types = tmp_path / "crdtstate" / "types"
    types.mkdir(parents=True)
    (tmp_path / "crdtstate" / "__init__.py").write_text("")
    (types / "__init__.py").write_text("from .a import A\n")
    (types / "a.py").write_text("import trio\n\ndef f():\n    from ..containers import h\n")
    (tmp_path / "crdtstate" / "containers").mkdir()
    (tmp_path / "crdtstate" / "containers" / "__init__.py").write_text("")
    (tmp_path / "crdtstate" / "containers" / "h.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..replica import R\n"
        "from ..types import A\n"
    )
    planted = import_edges(tmp_path, module_files(tmp_path, ("crdtstate",)))
    assert cycles(planted) == [["crdtstate.containers.h", "crdtstate.types", "crdtstate.types.a"]]
    assert upward(planted) == [
        "crdtstate.types.a:1 imports trio",
        "crdtstate.types.a:4 imports crdtstate.containers.h",
    ]
