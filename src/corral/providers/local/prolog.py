"""Slurm's PrologSlurmctld for local clusters: returns once the job's nodes are up.

Slurm 22.05 starts a batch job on freshly resumed nodes only on its 30 s periodic pass; finishing
the PrologSlurmctld starts it at once. It exits 0 when every node is ready, or is down (Slurm then
requeues the job), or after the timeout. It never calls ``scontrol wait_job`` (that deadlocks here).
A node is ready once Slurm shows it up AND its agent finished the bootstrap: slurmd registers
before the OnNodeConfigured scripts run, and a job must not start on a node they then fail.
"""

from __future__ import annotations

import os
import sys
import time

from corral.providers.local import _daemons, _nodes
from corral.providers.local._layout import ClusterLayout
from corral.providers.local._program import context, log
from corral.slurm.status import parse_nodes

TIMEOUT_S = 600.0


def _bootstrapped(layout: ClusterLayout, node: str) -> bool:
    """Whether the node's agent reported its bootstrap done (a failure is then waited on until
    Slurm shows the node DOWN, which requeues the job)."""
    return _nodes.read_status(layout.node_dir(node) / "status.json").get("status") == "ready"


def main() -> int:
    provider, cluster = context()
    nodes = os.environ.get("SLURM_JOB_NODELIST", "")
    if not nodes:
        return 0
    layout = provider.layout(cluster)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        states = parse_nodes(_daemons.scontrol(layout, "-o", "show", "node", nodes, timeout=10).stdout)
        if states and all(n.failed or (n.ready and _bootstrapped(layout, n.name)) for n in states):
            return 0
        time.sleep(0.1)
    log("prolog", f"job {os.environ.get('SLURM_JOB_ID')}: nodes {nodes} not ready after {TIMEOUT_S:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
