"""A replica that comes back (after a restart) resynchronises by digests without losing data.

On reconnect, each side answers the other's digest with `delta_since`. The peer already holds
most of what the restarted replica has; the answer must add what it lacks and remove what was
removed, and must not read "already seen" as "removed".
"""

from __future__ import annotations

from pathlib import Path

from crdtstate import AWSet, Replica
from transport import open_mesh

from .transport.helpers import converge


def test_delta_since_keeps_what_the_peer_has_already_seen() -> None:
    ours = AWSet.of(["x", "y", "gone"], replica="a")
    theirs = ours.copy()
    ours.add("z", replica="a")
    ours.remove("gone", replica="a")
    theirs.merge(ours.delta_since(theirs.digest()))
    assert theirs.value == {"x", "y", "z"}
    assert theirs == ours


def test_delta_since_does_not_resurrect_what_the_peer_removed() -> None:
    ours = AWSet.of(["x", "y"], replica="a")
    theirs = ours.copy()
    theirs.remove("x", replica="b")
    ours.add("z", replica="a")
    theirs.merge(ours.delta_since(theirs.digest()))
    assert theirs.value == {"y", "z"}


async def test_a_reopened_replica_and_its_peer_converge_to_the_union(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with Replica.open("peer") as peer, open_mesh(peer) as mesh:
        async with Replica.open("a", path) as a, open_mesh(a, None, [mesh.url]):
            await a.container("s", AWSet).update(lambda s: [s.add(e) for e in ("x", "y")])
            await converge([a, peer])
        await peer.container("s", AWSet).update(lambda s: s.add("from-peer"))
        async with Replica.open(path=path) as a:
            await a.container("s", AWSet).update(lambda s: s.add("after-restart"))
            async with open_mesh(a, None, [mesh.url]):
                await converge([a, peer])
            expected = {"x", "y", "from-peer", "after-restart"}
            assert await a.container("s", AWSet).get() == expected
            assert await peer.container("s", AWSet).get() == expected
