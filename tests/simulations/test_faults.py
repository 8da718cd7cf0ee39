"""The fault-injection run over real processes (simulations/faults): its check is exact, and a
small run with one SIGKILL and one cut link loses no acknowledged update."""

from __future__ import annotations

from pathlib import Path

import trio

from simulations.faults import FaultConfig, run_faults
from simulations.faults.__main__ import targets
from simulations.faults.check import FinalState, check
from simulations.faults.ledger import Ledger
from simulations.faults.plan import plan_faults
from simulations.faults.run import FaultReport

# r0 ran twice (killed once), r1 once. Token ids: replica, run (2), task, n (6).
R0 = """I 0 0
B cnt inc - -
D cnt inc - -
B cnt inc - -
D cnt inc - -
B doc ins <0000000001> -
D doc ins <0000000001> -
B doc ins (0000000002) -
D doc ins (0000000002) -
B map put k1 5
D map put k1 5
B map put k1 6
B cnt inc - -
I 1 3
B set add e1 -
D set add e1 -
B cnt inc - -
D cnt inc - -
B doc del (1000000001) -
D doc del (1000000001) -
B set rm e2 -
D set rm e2 -
B doc ins <0010000009> -"""
R1 = """I 0 0
B doc ins (1000000001) -
D doc ins (1000000001) -
B doc ins (1000000002) -
D doc ins (1000000002) -
B set add e2 -
D set add e2 -
B map put k2 7
D map put k2 7
B map del k2 -
D map del k2 -
"""


def ledger() -> Ledger:
    result = Ledger()
    result.add_lines("r0", R0 + "\n")
    result.add_lines("r1", R1)
    return result


def state(replica: str, **changes: object) -> FinalState:
    """What every replica must hold; r0's killed run left an unacked increment (base 3)."""
    values: dict[str, object] = {
        "counts": {"r0": 4},
        "elements": frozenset({"e1"}),
        "entries": {"k1": 5},
        "text": "(0000000002)<0000000001>(1000000002)",
        "digest": "d",
    }
    values.update(changes)
    return FinalState(replica=replica, **values)  # type: ignore[arg-type]


def test_the_check_passes_replicas_holding_every_acknowledged_update() -> None:
    verdict = check(ledger(), [state("r0"), state("r1")])
    assert verdict.ok, (verdict.lost, verdict.anomalies)
    assert verdict.checked == {"cnt": 3, "set": 3, "map": 3, "doc": 5}
    assert verdict.lost_total == 0


def test_the_check_allows_either_outcome_of_an_update_cut_short_by_a_kill() -> None:
    # k1's put of 6 began but never returned; the cut-short marker may be there or not.
    text = "(0000000002)<0000000001><0010000009>(1000000002)"
    verdict = check(ledger(), [state("r0", entries={"k1": 6}, text=text), state("r1")])
    assert verdict.lost_total == 0 and not verdict.anomalies


def test_the_check_counts_each_missing_update_once() -> None:
    without_marker = "(0000000002)(1000000002)"
    finals = [state("r0", text=without_marker), state("r1", text=without_marker)]
    verdict = check(ledger(), finals)
    assert verdict.lost_total == 1
    assert verdict.lost["doc"] == {"ins <0000000001>": {"r0", "r1"}}
    assert not verdict.converged or verdict.lost_total  # equal, but still not ok
    assert not verdict.ok


def test_the_check_finds_each_kind_of_loss() -> None:
    cases = {
        "cnt": {"counts": {"r0": 3}},  # the increment of r0's second run is missing
        "set": {"elements": frozenset({"e1", "e2"})},  # e2's acknowledged removal undone
        "map": {"entries": {"k1": 5, "k2": 7}},  # k2's acknowledged delete undone
        "doc": {"text": "(0000000002)<0000000001>(1000000002)(1000000001)"},  # deleted, back
    }
    for kind, change in cases.items():
        verdict = check(ledger(), [state("r0"), state("r1", **change)])
        lost = {k: v for k, v in verdict.lost.items() if v}
        assert list(lost) == [kind], (kind, lost)
        assert all(replicas == {"r1"} for replicas in lost[kind].values())


def test_the_check_counts_increments_a_restart_came_back_without() -> None:
    short = Ledger()
    short.add_lines("r0", R0.replace("I 1 3", "I 1 1") + "\n")
    short.add_lines("r1", R1)
    verdict = check(short, [state("r0", counts={"r0": 2}), state("r1", counts={"r0": 2})])
    assert verdict.lost["cnt"] == {"r0:run0:+2": {"r0"}}


def test_the_check_reports_what_nobody_wrote_and_broken_tokens() -> None:
    text = "(0000000002)<0000000001>(1000000002)<9999"
    verdict = check(ledger(), [state("r0", elements=frozenset({"e1", "x"}), text=text)])
    assert any("'x'" in a for a in verdict.anomalies)
    assert any("whole tokens" in a for a in verdict.anomalies)


def test_the_command_states_issue_13s_targets_met_only_when_nothing_is_lost() -> None:
    whole = targets(FaultReport(FaultConfig(), check(ledger(), [state("r0"), state("r1")])))
    assert whole == {
        "0 acknowledged updates lost (0 of 14)": True,
        "no replica holds what nobody wrote (0 anomalies)": True,
        "the replicas converged": True,
    }
    finals = [state("r0", counts={"r0": 3}, digest="a"), state("r1")]
    broken = targets(FaultReport(FaultConfig(), check(ledger(), finals)))
    assert list(broken.values()) == [False, True, False]
    assert "0 acknowledged updates lost (1 of 14)" in broken


def test_a_line_cut_short_by_a_kill_is_not_an_update() -> None:
    partial = Ledger()
    partial.add_lines("r1", "I 0 0\nB set add e9 -\nD set add e9")
    assert partial.done["set", "add"] == set() and partial.begun["set", "add"] == {"e9"}


def test_a_killed_process_is_held_only_to_its_own_acknowledgements(tmp_path: Path) -> None:
    (tmp_path / "r0").write_text(R0 + "\n")
    (tmp_path / "r1").write_text(R1)
    own = Ledger.read({"r0": tmp_path / "r0", "r1": tmp_path / "r1"}, acked_by="r1")
    assert own.acked == {"cnt": 0, "set": 1, "map": 2, "doc": 2}
    assert list(own.incarnations) == ["r1"]
    # r1's database, read after a kill: none of r0's updates reached it, and its own are there
    held = FinalState("r1", {}, frozenset({"e2"}), {}, "(1000000001)(1000000002)", "")
    assert check(own, [held]).lost_total == 0
    # r0 began removing e2 and deleting (1000000001): their absence is no loss; these are
    lost = check(own, [FinalState("r1", {}, frozenset(), {"k2": 7}, "(1000000001)", "")])
    assert {k: list(v) for k, v in lost.lost.items() if v} == {
        "map": ["k2 (last returned: del)"],
        "doc": ["ins (1000000002)"],
    }


def test_a_seed_plans_the_same_faults_never_two_on_one_target_at_once() -> None:
    for seed in range(20):
        faults = plan_faults(seed, kills=4, cuts=5, stalls=3)
        assert faults == plan_faults(seed, kills=4, cuts=5, stalls=3)
        assert len(faults) >= 6
        for a in faults:
            assert a.start < a.end <= 0.85
            overlapping = [b for b in faults if b is not a and b.start < a.end and a.start < b.end]
            assert all(b.target != a.target for b in overlapping)
            assert sum(b.kind == "kill" for b in [a, *overlapping]) < 3 or a.kind != "kill"


async def test_a_small_run_with_a_kill_and_a_cut_loses_no_acknowledged_update(
    tmp_path: Path,
) -> None:
    config = FaultConfig(seed=3, updates=450, kills=1, cuts=1, stalls=0, settle=60)
    lines: list[str] = []
    with trio.fail_after(600):  # a hang guard for processes that never finish
        report = await run_faults(config, tmp_path, lines.append)
    verdict = report.verdict
    assert verdict.lost_total == 0, (verdict.examples(), "\n".join(lines))
    assert not verdict.anomalies, verdict.anomalies
    assert verdict.converged
    assert sum(verdict.checked.values()) == 450  # every update was made and returned
    assert all(verdict.checked[kind] > 20 for kind in ("cnt", "set", "map", "doc"))
    assert report.kills == 1
    assert report.durable_checked > 0 and report.durable_lost == 0  # read right after the kill
    assert report.cut_connections >= 1  # the processes connect before updating; it cut a link
    assert not report.unhealed  # every link cut, or to a killed process, came back
    assert len(report.reconnects) >= 2  # the cut link, and the killed process's two links
    assert any("SIGKILL" in line and "exit -9" in line for line in report.faults)
    assert any(line.split()[1:2] == ["cut"] for line in report.faults)
    assert any("restored" in line for line in report.faults)
