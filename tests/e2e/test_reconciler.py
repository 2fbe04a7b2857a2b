"""The reconciler end to end: a static node whose machine dies is replaced by a new instance."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from corral.providers.local import LocalProvider
from corral.slurm import status

from .conftest import unique_name, wait_until
from .plans import plan

pytestmark = pytest.mark.e2e

NODE = "q1-st-c1-1"


def _pid(path: Path) -> int:
    return int(path.read_text().strip())


def _instance_id(provider: LocalProvider, name: str) -> str | None:
    ids = [i.instance_id for i in provider.instances(name) if i.node_name == NODE]
    return ids[0] if ids else None


def test_a_static_node_whose_machine_dies_is_replaced(provider: LocalProvider, cleanup: list[str]) -> None:
    name = unique_name("e2erec")
    cleanup.append(name)
    provider.create(plan(name, queues=(("q1", "c1", 1, 1),)), on_event=lambda r, m: None)
    layout = provider.layout(name)
    reconciler = _pid(layout.run_dir / "reconciler.pid")
    cmdline = Path(f"/proc/{reconciler}/cmdline").read_bytes().decode()
    # the leftovers check finds processes by the cluster's dirs: a leaked reconciler would show
    assert "corral.daemons.reconciler" in cmdline and str(layout.run_dir) in cmdline
    old_id = _instance_id(provider, name)
    assert old_id is not None

    # The machine dies: its namespace holder and its slurmd, by pid.
    started = time.monotonic()
    for pid in (_pid(layout.node_dir(NODE) / "holder.pid"), _pid(layout.run_dir / f"slurmd-{NODE}.pid")):
        os.kill(pid, signal.SIGKILL)

    def replaced() -> bool:
        new_id = _instance_id(provider, name)
        out = provider.run_on_head(name, ["scontrol", "-o", "show", "node", NODE]).stdout
        nodes = status.parse_nodes(out)
        return bool(new_id and new_id != old_id and nodes and nodes[0].ready and nodes[0].state == "IDLE")

    try:
        wait_until(replaced, 60, f"{NODE} to be replaced and idle", interval=0.2)
    except BaseException:
        print(provider.run_on_head(name, ["scontrol", "-o", "show", "node"]).stdout)
        print((layout.log / "reconciler.log").read_text())
        raise
    print(f"static node replaced in {time.monotonic() - started:.1f} s")
    log = (layout.log / "reconciler.log").read_text()
    assert f"terminate {NODE}: its instance is gone" in log
    assert f"power_up {NODE}: static node is powered down" in log
    job = provider.run_on_head(name, ["srun", "-w", NODE, "hostname"], timeout=60)
    assert job.returncode == 0 and job.stdout.strip() == NODE, job.stderr
