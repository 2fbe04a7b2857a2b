"""Protected mode, pure: counting bootstrap failures per queue, the threshold, the reset by a good
bootstrap, the release by an administrator, and no relaunch of a protected queue's nodes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from corral.daemons._loop import Loop, fleet_running, load_protection
from corral.daemons.protection import ProtectedQueue, Protection, queue_of, track_protection
from corral.daemons.reconciler import ActionKind, FleetSpec, ObservedCluster, reconcile
from corral.providers.base import CommandResult
from corral.slurm.status import NodeState, parse_nodes, parse_partitions

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BAD, GOOD, ST = "bad-dy-c2-1", "ok-dy-c1-1", "bad-st-c2-1"
FAILED = "bootstrap failure: OnNodeConfigured script /opt/bad.sh exited with 9"
UP = {"ok": "UP", "bad": "UP"}


def node(name: str, state: str = "IDLE+CLOUD", reason: str = "") -> NodeState:
    """A node as ``scontrol -o show node`` prints it, parsed by the real parser."""
    queue = name.split("-")[0]
    kind = "static" if "-st-" in name else "dynamic"
    line = f"NodeName={name} AvailableFeatures={kind},c5.large State={state} Partitions={queue}"
    if reason:
        line += f" Reason={reason} [root@2026-11-22T11:59:00]"
    (parsed,) = parse_nodes(line)
    return parsed


def failed(name: str = BAD) -> NodeState:
    return node(name, "DOWN+CLOUD", FAILED)


def after(
    previous: Protection,
    *nodes: NodeState,
    at: float = 0,
    running: dict[str, str] | None = None,
    partitions: dict[str, str] | None = None,
    threshold: int = 3,
) -> Protection:
    return track_protection(
        previous,
        nodes,
        running or {},
        partitions if partitions is not None else UP,
        T0 + timedelta(seconds=at),
        threshold=threshold,
        settle_s=10,
    )


def test_the_queue_is_the_partition_or_the_name_prefix() -> None:
    assert queue_of(node(BAD)) == "bad"
    (bare,) = parse_nodes("NodeName=my-queue-dy-c1-3 State=IDLE")
    assert queue_of(bare) == "my-queue"


def test_each_bootstrap_failure_counts_once_per_failure() -> None:
    state = after(Protection(), failed(), at=0)
    state = after(state, failed(), at=2)  # still the same failure
    assert state.failures == {"bad": 1}
    state = after(state, node(BAD, "IDLE+CLOUD+POWERED_DOWN"), at=4)  # reset by the reconciler
    state = after(state, failed(), at=6)  # launched again, failed again
    assert state.failures == {"bad": 2} and not state.protected


def test_a_down_node_for_another_reason_is_not_a_bootstrap_failure() -> None:
    state = after(
        Protection(), node(BAD, "DOWN+CLOUD", "maintenance"), node(GOOD, "DOWN+CLOUD", "Not responding")
    )
    assert not any(state.failures.values())


def test_the_threshold_protects_the_queue_and_reconcile_sets_its_partition_inactive_first() -> None:
    state = Protection()
    for i in range(3):
        state = after(state, failed(), at=4 * i)
        state = after(state, node(BAD, "IDLE+CLOUD+POWERED_DOWN"), at=4 * i + 2)
        assert ("bad" in state.protected) == (i == 2)
    assert state.protected["bad"].reason == (
        "Corral: protected mode: 3 consecutive bootstrap failures of nodes of queue bad"
    )
    spec = FleetSpec(static=frozenset(), dynamic=frozenset({BAD}), boot_grace_s=600)
    observed = ObservedCluster((failed(),), {}, {}, after(state, failed(), at=20))
    actions = reconcile(spec, observed, T0, fleet_running=True)
    assert [(a.kind, a.node) for a in actions.items] == [
        (ActionKind.PROTECT, "bad"),
        # the failed node is still cleaned up and reset
        (ActionKind.TERMINATE, BAD),
        (ActionKind.POWER_DOWN, BAD),
    ]
    assert actions.scontrol_commands()[0] == ["scontrol", "update", "PartitionName=bad", "State=INACTIVE"]
    assert not reconcile(spec, observed, T0, fleet_running=False)


def test_a_node_of_the_queue_that_bootstraps_resets_its_count_once_it_stays_up() -> None:
    state = after(Protection(), failed(), threshold=2)
    state = after(state, node(BAD), at=1, running={BAD: "i-2"}, threshold=2)
    state = after(state, node(BAD), at=9, running={BAD: "i-2"}, threshold=2)
    assert state.failures == {"bad": 1}  # up for 8 s only: a failing agent may still mark it DOWN
    state = after(state, node(BAD), at=11, running={BAD: "i-2"}, threshold=2)
    assert state.failures == {"bad": 0}
    state = after(state, failed(), at=13, threshold=2)
    assert state.failures == {"bad": 1} and not state.protected


def test_a_node_whose_agent_has_not_finished_does_not_reset_the_count() -> None:
    state = after(Protection(), failed())
    state = after(state, node(BAD), at=1)  # up in Slurm, but its instance is not running yet
    state = after(state, node(BAD), at=30)
    assert state.failures == {"bad": 1}
    state = after(state, node(GOOD), at=31, running={GOOD: "i-9"})
    state = after(state, node(GOOD), at=60, running={GOOD: "i-9"})
    assert state.failures == {"bad": 1}  # another queue's success is not this queue's


def test_a_protected_queue_never_powers_its_nodes_up_but_the_others_do() -> None:
    protection = Protection(protected={"bad": ProtectedQueue("Corral: protected mode", T0, applied=True)})
    spec = FleetSpec(static=frozenset({ST, "ok-st-c1-1"}), dynamic=frozenset(), boot_grace_s=600)
    down = "IDLE+CLOUD+POWERED_DOWN"
    observed = ObservedCluster((node(ST, down), node("ok-st-c1-1", down)), protection=protection)
    actions = reconcile(spec, observed, T0, fleet_running=True)
    assert [(a.kind, a.node) for a in actions.items] == [(ActionKind.POWER_UP, "ok-st-c1-1")]


def test_an_administrator_releases_a_protected_queue_by_setting_its_partition_up() -> None:
    state = after(Protection(), failed(), threshold=1)
    assert state.pending() == state.protected and "bad" in state.protected
    state = after(state, failed(), at=2, partitions={"ok": "UP", "bad": "INACTIVE"}, threshold=1)
    assert state.applied() == {"bad"} and not state.pending()
    spec = FleetSpec(static=frozenset(), dynamic=frozenset({BAD}), boot_grace_s=600)
    observed = ObservedCluster((failed(),), protection=state)
    assert ActionKind.PROTECT not in [a.kind for a in reconcile(spec, observed, T0, fleet_running=True).items]
    state = after(state, node(BAD, "IDLE+CLOUD+POWERED_DOWN"), at=4, threshold=1)  # partition UP again
    assert not state.protected and state.failures == {}


def test_the_status_round_trips_and_a_protected_partition_does_not_stop_the_fleet() -> None:
    state = after(Protection(), failed(), threshold=1)
    status = state.status()
    assert status["protectedQueues"] == [
        {
            "queue": "bad",
            "reason": "Corral: protected mode: 1 consecutive bootstrap failures of nodes of queue bad",
            "since": T0.isoformat(),
            "failures": 1,
        }
    ]
    restored = Protection.from_status(json.dumps(status))
    assert restored.applied() == {"bad"} and restored.protected["bad"].since == T0
    partitions = parse_partitions("PartitionName=ok State=UP\nPartitionName=bad State=INACTIVE\n")
    nodes = [node(GOOD, "IDLE+CLOUD+POWERED_DOWN"), node(BAD, "IDLE+CLOUD+POWERED_DOWN")]
    assert fleet_running(partitions, nodes, frozenset({"bad"}))
    assert not fleet_running(partitions, nodes, frozenset())  # mixed states otherwise: hands off
    assert fleet_running(partitions[1:], nodes[1:], frozenset({"bad"}))  # every queue protected


class Head:
    """Slurm with one failed node of queue ``bad``, its partition UP until set INACTIVE."""

    name = "scripted"

    def __init__(self) -> None:
        self.bad_state = "UP"
        self.calls: list[tuple[str, ...]] = []

    def instances(self, cluster_name: str) -> list[object]:
        return []

    def heal_login_nodes(self, cluster_name: str) -> list[str]:
        return []

    def terminate(self, cluster_name: str, node_names: list[str]) -> None:
        self.calls.append(("terminate", *node_names))

    def run_on_head(self, cluster_name: str, argv: list[str], **_: object) -> CommandResult:
        self.calls.append(tuple(argv))
        if "PartitionName=bad" in argv:
            self.bad_state = "INACTIVE"
        if list(argv[:3]) == ["scontrol", "show", "config"]:
            return CommandResult(0, "ResumeTimeout = 60 sec\n", "")
        if "node" in argv and "show" in argv:
            line = f"NodeName={BAD} AvailableFeatures=dynamic State=DOWN+CLOUD Partitions=bad Reason={FAILED}"
            return CommandResult(0, line + "\n", "")
        if "partition" in argv and "show" in argv:
            return CommandResult(
                0, f"PartitionName=ok State=UP\nPartitionName=bad State={self.bad_state}\n", ""
            )
        return CommandResult(0, "", "")


def test_the_loop_protects_logs_and_writes_the_status_file_that_a_new_loop_reads(tmp_path: Path) -> None:
    status_file = tmp_path / "state" / "protected.json"
    logged: list[str] = []
    head = Head()
    loop = Loop(head, "c", log=logged.append, protected_failure_count=1, status_file=status_file)  # type: ignore[arg-type]
    actions = loop.step()
    assert actions.items[0].kind is ActionKind.PROTECT
    assert ("scontrol", "update", "PartitionName=bad", "State=INACTIVE") in head.calls
    assert any(line.startswith("queue bad enters protected mode") for line in logged)
    (entry,) = json.loads(status_file.read_text())["protectedQueues"]
    assert entry["queue"] == "bad"
    loop.step()  # partition INACTIVE now: protection applied, no second PROTECT
    assert head.calls.count(("scontrol", "update", "PartitionName=bad", "State=INACTIVE")) == 1
    assert load_protection(status_file, logged.append).applied() == {"bad"}
    status_file.write_text("not json")
    assert load_protection(status_file, logged.append) == Protection()
    assert logged[-1].startswith(f"ignoring unreadable {status_file}")
