"""Slurm's PrologSlurmctld for local clusters: returns once the job's nodes are up.

Slurm 22.05 starts a batch job on freshly resumed nodes only on its 30 s periodic pass; finishing
the PrologSlurmctld starts it at once. It exits 0 when every node is ready, or is down (Slurm then
requeues the job), or after the timeout. It never calls ``scontrol wait_job`` (that deadlocks here).
"""

from __future__ import annotations

import os
import sys
import time

from corral.providers.local import _daemons
from corral.providers.local._program import context, log
from corral.slurm.status import parse_nodes

TIMEOUT_S = 600.0


def main() -> int:
    provider, cluster = context()
    nodes = os.environ.get("SLURM_JOB_NODELIST", "")
    if not nodes:
        return 0
    layout = provider.layout(cluster)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        states = parse_nodes(_daemons.scontrol(layout, "-o", "show", "node", nodes, timeout=10).stdout)
        if states and all(n.ready or n.failed for n in states):
            return 0
        time.sleep(0.1)
    log("prolog", f"job {os.environ.get('SLURM_JOB_ID')}: nodes {nodes} not ready after {TIMEOUT_S:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
