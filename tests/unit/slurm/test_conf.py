"""slurm.conf / gres.conf rendering: golden snapshots plus the properties the cluster relies on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from corral.slurm import hostlist
from corral.slurm.conf import SlurmRuntime, render_gres_conf, render_slurm_conf, suspend_time
from support import golden
from support.plans import rich_plan, two_queue_plan

GOLDEN = Path(__file__).parent / "golden"

RUNTIME = SlurmRuntime(
    state_save_dir="/var/corral/clusters/demo/state",
    spool_dir="/run/corral/abc/%n",
    log_dir="/var/corral/clusters/demo/log",
    run_dir="/run/corral/abc",
    munge_socket="/run/corral/abc/munge.socket",
    head_hostname="head",
    head_addr="10.240.0.1",
    resume_program="/var/corral/clusters/demo/bin/resume",
    suspend_program="/var/corral/clusters/demo/bin/suspend",
    prolog_slurmctld="/var/corral/clusters/demo/bin/prolog",
)


def _addrs(names: list[str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, f"10.240.{(10 + i) // 256}.{(10 + i) % 256}") for i, name in enumerate(names))


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if golden.updating() or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; {golden.hint()}"


@pytest.mark.parametrize("plan_name", ["two_queue", "rich"])
def test_slurm_conf_matches_golden(plan_name: str) -> None:
    plan = two_queue_plan() if plan_name == "two_queue" else rich_plan()
    runtime = replace(
        RUNTIME,
        node_addrs=_addrs([n.name for n in plan.nodes]),
        include_file="/var/corral/clusters/demo/etc/include/extra.conf" if plan_name == "rich" else None,
    )
    check_golden(f"{plan_name}.slurm.conf", render_slurm_conf(plan, runtime))


def test_gres_conf_matches_golden() -> None:
    check_golden("rich.gres.conf", render_gres_conf(rich_plan(), "/var/corral/clusters/rich/dev"))


def _lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_every_node_is_cloud_and_declared_once_with_its_address() -> None:
    plan = rich_plan()
    addrs = _addrs([n.name for n in plan.nodes])
    text = render_slurm_conf(plan, replace(RUNTIME, node_addrs=addrs))
    declared: list[str] = []
    declared_addrs: list[str] = []
    for line in _lines(text, "NodeName="):
        fields = dict(part.split("=", 1) for part in line.split())
        assert fields["State"] == "CLOUD"
        declared += hostlist.expand(fields["NodeName"])
        declared_addrs += hostlist.expand(fields["NodeAddr"])
    assert declared == [n.name for n in plan.nodes]
    assert declared_addrs == [a for _, a in addrs]


def test_static_nodes_are_excluded_from_suspend_and_features_name_the_kind() -> None:
    text = render_slurm_conf(rich_plan(), RUNTIME)
    assert "SuspendExcNodes=cpu-st-small-[1-2]" in text
    assert "Feature=static,c5.xlarge,small" in text
    assert "Feature=dynamic,c5.4xlarge,big" in text


def test_custom_settings_override_defaults_in_place_and_append_the_rest() -> None:
    text = render_slurm_conf(rich_plan(), replace(RUNTIME, include_file="/etc/x/extra.conf"))
    assert _lines(text, "SchedulerType=") == ["SchedulerType=sched/builtin"]
    assert "MaxArraySize=5000" in text
    (cpu,) = _lines(text, "PartitionName=cpu ")
    assert "MaxTime=2-00:00:00" in cpu and "MaxTime=INFINITE" not in cpu and "MaxNodes=8" in cpu
    gpu_nodes = _lines(text, "NodeName=gpu-")
    assert gpu_nodes and all("Weight=99" in line and "CoreSpecCount=1" in line for line in gpu_nodes)
    assert text.rstrip().endswith("Include /etc/x/extra.conf")
    assert "OverSubscribe=EXCLUSIVE" in _lines(text, "PartitionName=gpu ")[0]


def test_memory_scheduling_gres_and_default_partition() -> None:
    rich = render_slurm_conf(rich_plan(), RUNTIME)
    plain = render_slurm_conf(two_queue_plan(), RUNTIME)
    assert "SelectTypeParameters=CR_CPU_Memory" in rich and "SelectTypeParameters=CR_CPU\n" in plain
    assert "GresTypes=gpu" in rich and "GresTypes" not in plain
    assert "Gres=gpu:t4:1" in rich
    assert "PartitionName=q1 Nodes=q1-st-c1-1,q1-dy-c1-[1-3] Default=YES" in plain
    assert "PartitionName=q2 Nodes=q2-dy-c2-[1-2] Default=NO" in plain


def test_power_saving_knobs() -> None:
    plan = two_queue_plan(scaledown=10)
    assert suspend_time(plan, RUNTIME) == 600
    assert suspend_time(plan, replace(RUNTIME, suspend_time_s=5)) == 5
    assert suspend_time(two_queue_plan(scaledown=-1), RUNTIME) == -1
    text = render_slurm_conf(plan, RUNTIME)
    for needed in (
        "PrivateData=cloud",
        "SuspendTime=600",
        "ResumeTimeout=1800",
        "PrologSlurmctld=",
        "ResumeRate=0",
    ):
        assert needed in text
