"""The reconciler loop against a scripted head node: what it observes, what it runs, in which order."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from corral.daemons._loop import Loop, run
from corral.daemons.reconciler import Actions
from corral.providers.base import CommandResult, Instance, InstanceState, NodeRole

NODES = (
    "NodeName=q1-st-c1-1 AvailableFeatures=static,c5.large State=IDLE+CLOUD Partitions=q1\n"
    "NodeName=q1-dy-c1-1 AvailableFeatures=dynamic,c5.large State=IDLE+CLOUD+POWERED_DOWN Partitions=q1\n"
)
PARTITION = "PartitionName=q1 State={state} Nodes=q1-st-c1-1,q1-dy-c1-1\n"


class ScriptedHead:
    """Answers the scontrol queries the loop makes and records every call, in order."""

    name = "scripted"

    def __init__(self, partition_state: str = "UP", instances: Sequence[Instance] = ()) -> None:
        self.partition_state, self.listed = partition_state, list(instances)
        self.calls: list[tuple[str, ...]] = []

    def instances(self, cluster_name: str) -> list[Instance]:
        self.calls.append(("instances",))
        return self.listed

    def terminate(self, cluster_name: str, node_names: Sequence[str]) -> None:
        self.calls.append(("terminate", *node_names))

    def run_on_head(self, cluster_name: str, argv: Sequence[str], **_: object) -> CommandResult:
        self.calls.append(tuple(argv))
        if list(argv[:3]) == ["scontrol", "show", "config"]:
            return CommandResult(0, "ResumeTimeout           = 60 sec\n", "")
        if "node" in argv and "show" in argv:
            return CommandResult(0, NODES, "")
        if "partition" in argv and "show" in argv:
            return CommandResult(0, PARTITION.format(state=self.partition_state), "")
        return CommandResult(0, "", "")


def test_a_static_node_without_instance_is_terminated_then_powered_down() -> None:
    head = ScriptedHead()
    logged: list[str] = []
    actions = Loop(head, "c", log=logged.append).step()  # type: ignore[arg-type]
    assert [a.describe() for a in actions.items] == [
        "terminate q1-st-c1-1: its instance is gone",
        "power_down q1-st-c1-1: its instance is gone",
    ]
    assert head.calls[0] == ("instances",)  # instances are observed before Slurm
    terminate = head.calls.index(("terminate", "q1-st-c1-1"))
    power_down = next(i for i, c in enumerate(head.calls) if "State=POWER_DOWN_FORCE" in c)
    assert terminate < power_down
    assert logged == [a.describe() for a in actions.items]


def test_a_healthy_node_and_a_stopped_fleet_are_left_alone() -> None:
    up = Instance(
        "i-1",
        NodeRole.COMPUTE,
        "c5.large",
        "10.0.0.2",
        InstanceState.RUNNING,
        datetime.now(UTC),
        node_name="q1-st-c1-1",
    )
    assert not Loop(ScriptedHead(instances=[up]), "c", log=print).step()  # type: ignore[arg-type]
    stopped = ScriptedHead(partition_state="INACTIVE")
    assert not Loop(stopped, "c", log=print).step()  # type: ignore[arg-type]
    assert not [c for c in stopped.calls if "update" in c or c[0] == "terminate"]


def test_the_loop_runs_until_its_pid_file_no_longer_names_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "reconciler.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    steps: list[int] = []
    logged: list[str] = []

    class OneStep(Loop):
        def step(self) -> Actions:
            steps.append(1)
            pid_file.unlink()  # the cluster is being deleted
            return Actions()

    loop = OneStep(ScriptedHead(), "c", log=logged.append)  # type: ignore[arg-type]
    run(loop, 0.0, pid_file)
    assert steps == [1] and logged == ["pid file gone or taken over; exiting"]
    pid_file.write_text("1\n")  # another reconciler owns the cluster now
    run(loop, 0.0, pid_file)
    assert steps == [1]
