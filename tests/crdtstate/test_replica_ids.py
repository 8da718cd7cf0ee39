"""One rule for replica ids, one clear error: `""`, blank, padded and NUL ids are refused by
`Replica.open` (in memory and on disk) and by the replica core, instead of `""` silently
becoming a random id and the others being accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from crdtstate import InvalidArgumentError, Replica
from crdtstate.replica_ids import check_replica_id
from crdtstate.replica_state import ReplicaState

pytestmark = pytest.mark.anyio

BAD_IDS = ["", " ", "   ", "\t", "a\x00b", "\x00", "line\nbreak", " padded", "padded ", "x" * 257]
GOOD_IDS = ["a", "server-a", "node 1", "é-ü", "x" * 256, "10.0.0.2:7700"]


@pytest.mark.parametrize("replica_id", BAD_IDS, ids=repr)
async def test_open_refuses_a_bad_id_in_memory(replica_id: str) -> None:
    with pytest.raises(InvalidArgumentError, match="an id is 1 to 256 printable characters"):
        async with Replica.open(replica_id):
            pass


@pytest.mark.parametrize("replica_id", BAD_IDS, ids=repr)
async def test_open_refuses_a_bad_id_on_disk_and_creates_no_file(
    replica_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "r.db"
    with pytest.raises(InvalidArgumentError):
        async with Replica.open(replica_id, path):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("replica_id", BAD_IDS, ids=repr)
def test_the_replica_core_refuses_a_bad_id(replica_id: str) -> None:
    with pytest.raises(InvalidArgumentError):
        ReplicaState(replica_id)


@pytest.mark.parametrize("replica_id", [None, 7, b"a"], ids=repr)
def test_a_non_string_id_is_refused_naming_its_type(replica_id: object) -> None:
    with pytest.raises(InvalidArgumentError, match="not a string"):
        check_replica_id(replica_id)


@pytest.mark.parametrize("replica_id", GOOD_IDS)
async def test_good_ids_are_kept_as_given(replica_id: str) -> None:
    async with Replica.open(replica_id) as replica:
        assert replica.id == replica_id


async def test_no_id_still_means_a_random_one() -> None:
    async with Replica.open() as a, Replica.open(None) as b:
        assert a.id and b.id and a.id != b.id


def test_the_error_is_one_line_and_a_value_error() -> None:
    with pytest.raises(ValueError) as caught:
        check_replica_id("a\x00")
    assert "\n" not in str(caught.value)
    assert "'a\\x00'" in str(caught.value)
