"""Slurm's SuspendProgram on every provider: ``python -m corral.daemons.suspend HOSTLIST``.

It terminates the nodes' instances through the provider named by ``CORRAL_PROVIDER`` (``local`` by
default), for the cluster that the wrapper names (``CORRAL_STATE_DIR``, ``CORRAL_CLUSTER_NAME``):
the same program the ResumeProgram (``corral.daemons.resume``) pairs with.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from corral.errors import CorralError
from corral.runtime.proclog import logger
from corral.slurm import hostlist

#: The module Slurm's SuspendProgram wrappers run.
SUSPEND_MODULE = "corral.daemons.suspend"


log = logger("suspend")


def main(argv: list[str], environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    state_dir, cluster = env.get("CORRAL_STATE_DIR"), env.get("CORRAL_CLUSTER_NAME")
    if not state_dir or not cluster:
        log("CORRAL_STATE_DIR and CORRAL_CLUSTER_NAME must be set (run through the cluster's wrapper)")
        return 2
    names = hostlist.expand(argv[0]) if argv else []
    log(f"terminating {len(names)} node(s): {argv[0] if argv else ''}")
    from corral.providers import DEFAULT_PROVIDER, get_provider

    os.chdir("/")
    try:
        get_provider(env.get("CORRAL_PROVIDER", DEFAULT_PROVIDER), Path(state_dir)).terminate(cluster, names)
    except CorralError as exc:
        log(f"failed: {exc}")
        return 1
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
