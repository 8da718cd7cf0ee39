"""Two async test runners share the suite: pytest-trio (`trio_mode`) runs every async test by
default, under trio; a module marked `pytestmark = pytest.mark.anyio` (or one test marked
`@pytest.mark.anyio`) is backend-neutral and runs each async test under trio and under asyncio
through anyio's plugin instead.

pytest-trio marks every coroutine test, anyio's too, and would then run the asyncio variant
under trio without a word; so its mark is taken off anyio tests here, and collection fails
if any async test would not run under exactly one runner.

Property tests reproduce: the default hypothesis profile derandomizes every `@given` test (its
examples are a function of the test, so a failure in CI fails the same way on a laptop, and no
example database is needed). `CRDTSTATE_LONG=1` (which also multiplies the state machine's
examples) loads the "explore" profile instead: random examples, remembered in the database.
"""

from __future__ import annotations

import inspect
import os

import pytest
from hypothesis import settings

settings.register_profile("reproducible", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
EXPLORE = os.environ.get("CRDTSTATE_LONG") == "1"
settings.load_profile("explore" if EXPLORE else "reproducible")

BACKENDS = ("trio", "asyncio")


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The event loop a neutral (`pytest.mark.anyio`) test runs on."""
    return request.param


def _is_async(item: pytest.Item) -> bool:
    function = getattr(item, "obj", None)
    inner = getattr(getattr(function, "hypothesis", None), "inner_test", function)
    return inspect.iscoroutinefunction(inner)


def _draws_at_random(item: pytest.Item) -> bool:
    """Whether a `@given` test's examples are random (a settings object that overrides the
    profile with derandomize=False)."""
    chosen = getattr(getattr(item, "obj", None), "_hypothesis_internal_use_settings", None)
    return chosen is not None and not chosen.derandomize


@pytest.hookimpl(trylast=True)  # after pytest-trio's automark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unrun = []
    random = [item.nodeid for item in items if _draws_at_random(item)]
    if random and not EXPLORE:
        raise pytest.UsageError("property tests that would not reproduce: " + ", ".join(random))
    for item in items:
        if not _is_async(item):
            continue
        if item.get_closest_marker("anyio") is not None:
            item.own_markers[:] = [m for m in item.own_markers if m.name != "trio"]
            runs = "anyio_backend" in getattr(item, "fixturenames", ())
        else:
            runs = item.get_closest_marker("trio") is not None
        if not runs:
            unrun.append(item.nodeid)
    if unrun:
        raise pytest.UsageError("async tests no runner would run: " + ", ".join(unrun))
