"""Shared plumbing of the programs Slurm runs (Resume, Suspend, PrologSlurmctld)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from corral.providers.local.provider import LocalProvider
from corral.runtime.proclog import emit

#: ``log(program, message)``: the one process log line (``corral.runtime.proclog``)
log = emit


def context() -> tuple[LocalProvider, str]:
    """The provider and cluster name the wrapper script exported."""
    os.chdir("/")
    state_dir = os.environ.get("CORRAL_STATE_DIR")
    cluster = os.environ.get("CORRAL_CLUSTER_NAME")
    if not state_dir or not cluster:
        sys.exit("CORRAL_STATE_DIR and CORRAL_CLUSTER_NAME must be set (run through bin/ wrappers)")
    return LocalProvider(Path(state_dir)), cluster
