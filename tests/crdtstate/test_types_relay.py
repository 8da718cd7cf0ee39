"""Regression: a relay's minimal part can teach a dot without its removal, so neither RR
(`novel`) nor a digest answer (`delta_since`) may skip a delta whose context we cover."""

from __future__ import annotations

from crdtstate import AWSet


def relayed_scenario() -> tuple[AWSet, AWSet, AWSet]:
    """a adds e, then re-tags it; w removed e in between and relays only the new dot to z."""
    a = AWSet()
    first = a.add("e", replica="a")
    w, z = AWSet(), AWSet()
    w.merge(first)
    z.merge(first)
    w.remove("e", replica="w")
    retag = a.add("e", replica="a")  # context {a1, a2}: it removes a1, the dot it observed
    part = w.novel(retag)
    assert part is not None
    w.merge(part)
    z.merge(part)  # z now has seen a1 and a2, yet still holds the dead a1
    return a, retag, z


def test_novel_keeps_a_removal_even_when_the_context_is_covered() -> None:
    _, retag, z = relayed_scenario()
    assert z.context.covers(retag.context)
    expected = z.copy()
    expected.merge(retag)
    part = z.novel(retag)
    assert part is not None
    z.merge(part)
    assert z == expected
    assert {d.counter for d in z.store.dots()} == {2}


def test_delta_since_removes_a_dot_the_peer_still_holds() -> None:
    a, _, z = relayed_scenario()
    expected = z.copy()
    expected.merge(a)
    z.merge(a.delta_since(z.digest()))
    assert z == expected
