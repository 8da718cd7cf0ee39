"""AWSet RR and digest deltas when an add re-tags an element (found by the simulator).

Replica b re-adds an element a added: the delta kills a's dot. A second add by b kills b's own
first dot, so its delta carries that dot as bare context. A replica that receives the second
delta first has then *seen* every dot of the first one without applying its removal: neither
`novel` nor `delta_since` may treat a covering context as "nothing to do".
"""

from __future__ import annotations

from crdtstate.types import AWSet


def _retag_history() -> tuple[AWSet, AWSet, AWSet]:
    a = AWSet()
    a.add("x", replica="a")
    b = a.copy()
    first = b.add("x", replica="b")  # kills a's dot
    second = b.add("x", replica="b")  # kills b's first dot, whose context holds a's dot
    return a, first, second


def test_novel_keeps_a_removal_whose_dots_were_seen_out_of_order() -> None:
    a, first, second = _retag_history()
    a.merge(second)
    part = a.novel(first)
    assert part is not None
    expected = a.copy()
    expected.merge(first)
    a.merge(part)
    assert a == expected
    assert len(a.store.dots_of("x")) == 1


def test_delta_since_sends_removals_even_when_the_digest_covers_our_context() -> None:
    a, first, second = _retag_history()
    b = AWSet()
    b.merge(first)
    b.merge(second)
    a.merge(second)  # a's context now covers b's, but a still holds its own dead dot
    assert a.digest().context.covers(b.context)
    a.merge(b.delta_since(a.digest()))
    assert a == b


def test_delta_since_leaves_out_live_dots_the_peer_has_seen() -> None:
    x = AWSet()
    for i in range(50):
        x.add(i, replica="a")
    y = x.copy()
    x.add("new", replica="a")
    delta = x.delta_since(y.digest())
    assert delta.value == {"new"}
    y.merge(delta)
    assert y == x
