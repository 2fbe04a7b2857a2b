"""Slurm's PrologSlurmctld on an AWS head node: returns once the job's nodes are up, as on the
local provider (``corral.providers.local.prolog``).

Slurm 22.05 starts a batch job on freshly resumed nodes only on its 30 s periodic pass; finishing
the PrologSlurmctld starts it at once. It exits 0 when every node of ``SLURM_JOB_NODELIST`` is up
or has failed (Slurm then requeues the job), or after ``TIMEOUT_S``. It never calls ``scontrol
wait_job`` (that deadlocks inside a prolog). Slurm runs it through ``/opt/corral/libexec/prolog``
(``_node_setup.wrapper``), with ``SLURM_CONF`` set; its log is ``/var/log/corral/prolog.log``,
shipped as the ``slurm_prolog_epilog`` stream.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from corral.slurm.status import NodeState, parse_nodes

TIMEOUT_S = 600.0
POLL_S = 0.5


def show_nodes(nodes: str) -> list[NodeState]:
    result = subprocess.run(
        ["scontrol", "-o", "show", "node", nodes], capture_output=True, text=True, timeout=10, check=False
    )
    return parse_nodes(result.stdout)


def wait_for_nodes(
    nodes: str,
    show: Callable[[str], list[NodeState]] = show_nodes,
    *,
    timeout_s: float = TIMEOUT_S,
    poll_s: float = POLL_S,
) -> bool:
    """Whether every node of ``nodes`` came up or failed within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        states = show(nodes)
        if states and all(n.ready or n.failed for n in states):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)


def main() -> int:
    nodes = os.environ.get("SLURM_JOB_NODELIST", "")
    if nodes and not wait_for_nodes(nodes):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        job = os.environ.get("SLURM_JOB_ID")
        print(
            f"{stamp} prolog[{os.getpid()}] job {job}: nodes {nodes} not up after {TIMEOUT_S:.0f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
