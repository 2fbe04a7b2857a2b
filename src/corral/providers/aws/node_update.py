"""The head node's half of update-cluster on AWS: ``python -m corral.providers.aws.node_update``.

Run by the provider through SSM Run Command after the stack update. It rebuilds the cluster's plan
from the artefact bucket with the same code as at boot (``node.prepare``: scripts fetched,
slurm.conf and the node's files rewritten), has Slurm take the new config (``scontrol
reconfigure``; when slurmctld cannot take it live, as when nodes are added or removed, it is
started again from the spec's service, recovering its jobs from its state), and runs the node
agent's ``updated`` phase: the head's OnNodeUpdated actions, the same agent as on the local
provider. ``--no-actions`` (a rollback) skips OnNodeUpdated. Exits non-zero with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from corral.node.agent import BootstrapSpec

SPEC = Path("/etc/corral/bootstrap.json")
#: The pristine spec the update starts from (services and actions are added by ``prepare``).
BASE_SPEC = Path("/etc/corral/bootstrap-update.json")


def base_spec(completed: BootstrapSpec) -> BootstrapSpec:
    """``completed`` without what ``prepare`` adds (actions, services, pid files), so that preparing
    it again does not add them twice."""
    from dataclasses import replace

    return replace(completed, actions=(), services=(), service_pidfiles=())


def slurmctld_argv(spec: BootstrapSpec) -> tuple[str, ...] | None:
    return next((s for s in spec.services if s and os.path.basename(s[0]) == "slurmctld"), None)


def take_config(spec: BootstrapSpec) -> str:
    """``scontrol reconfigure``; slurmctld started again when it cannot reconfigure live."""
    runner = subprocess.run
    if runner(["scontrol", "reconfigure"], check=False, capture_output=True).returncode == 0:
        return "reconfigured"
    argv = slurmctld_argv(spec)
    if argv is None:
        raise RuntimeError("scontrol reconfigure failed and the spec has no slurmctld service to restart")
    runner(["scontrol", "shutdown", "slurmctld"], check=False, capture_output=True)
    time.sleep(1.0)
    runner(list(argv), check=False, capture_output=True)
    for _ in range(60):
        if runner(["scontrol", "ping"], check=False, capture_output=True).returncode == 0:
            runner(["scontrol", "reconfigure"], check=False, capture_output=True)
            return "restarted"
        time.sleep(0.5)
    raise RuntimeError("slurmctld did not come back after the restart with the new slurm.conf")


def main(argv: list[str]) -> int:
    from corral.providers.aws._program import log
    from corral.providers.aws._settings import AwsSettings
    from corral.providers.aws.node import prepare

    actions = "--no-actions" not in argv
    context = AwsSettings.from_env().cluster_config
    BASE_SPEC.write_text(base_spec(BootstrapSpec.load(SPEC.read_text(encoding="utf-8"))).dump())
    spec = prepare(BASE_SPEC, context)
    SPEC.write_text(spec.dump(), encoding="utf-8")
    log("update", f"slurm.conf rewritten; slurmctld {take_config(spec)}")
    if not actions:
        return 0
    agent = [sys.executable, "-m", "corral.node", str(SPEC), "--phase", "updated"]
    code = subprocess.run(agent, check=False).returncode
    log("update", f"OnNodeUpdated: agent exited {code}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
