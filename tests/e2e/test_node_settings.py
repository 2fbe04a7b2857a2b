"""Node settings of the config on a real local cluster: EphemeralVolume/MountDir is a directory of
each node's own at that path (cfnconfig names it), Dns/UseEc2Hostnames names compute nodes after
their address, and delete removes the mount points it made on the host."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest

from corral.providers.local import LocalProvider
from support.plans import plan

from .conftest import delete_and_check, unique_name

pytestmark = pytest.mark.e2e


def test_ephemeral_dirs_are_node_local_and_ec2_hostnames_name_the_nodes(
    provider: LocalProvider, cleanup: list[str]
) -> None:
    name = unique_name("e2eeph")
    cleanup.append(name)
    mark = secrets.token_hex(3)
    head_dir, node_dir = f"/corral-e2e-{mark}/head", f"/corral-e2e-{mark}-nvme"
    base = plan(name, queues=(("q1", "c1", 2, 0),))
    the_plan = replace(
        base,
        head_node=replace(base.head_node, ephemeral_dir=head_dir),
        queue_ephemeral_dirs=(("q1", node_dir),),
        use_ec2_hostnames=True,
    )
    provider.create(the_plan, on_event=lambda r, m: None)

    def on(node: str, script: str) -> str:
        argv = ["srun", "-N1", "-w", node, "bash", "-c", script]
        result = provider.run_on_head(name, argv, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip()

    script = f". /etc/parallelcluster/cfnconfig; echo $cfn_ephemeral_dir $(hostname) $(stat -c %a {node_dir})"
    first = on("q1-st-c1-1", f"echo one > {node_dir}/file; {script}")
    ephemeral, hostname, mode = first.split()
    assert (ephemeral, mode) == (node_dir, "1777")
    assert hostname.startswith("ip-10-") and hostname != "q1-st-c1-1"
    assert on("q1-st-c1-2", f"ls -A {node_dir}") == ""  # the other node's file is not there
    assert on("q1-st-c1-1", f"cat {node_dir}/file") == "one"
    config = provider.run_on_head(name, ["scontrol", "show", "node", "q1-st-c1-1"]).stdout
    assert f"NodeHostName={hostname}" in config
    head = provider.run_on_head(
        name,
        ["bash", "-c", f". /etc/parallelcluster/cfnconfig; echo $cfn_ephemeral_dir; stat -c %a {head_dir}"],
    )
    assert head.stdout.split() == [head_dir, "1777"]
    assert not list(Path(node_dir).iterdir())  # nothing of the nodes' files reached the host
    delete_and_check(provider, name)
    cleanup.remove(name)
    assert not Path(node_dir).exists() and not Path(f"/corral-e2e-{mark}").exists()
