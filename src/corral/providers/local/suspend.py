"""Slurm's SuspendProgram for local clusters: ``python -m corral.providers.local.suspend HOSTLIST``."""

from __future__ import annotations

import sys

from corral.errors import CorralError
from corral.providers.local._program import context, log
from corral.slurm import hostlist


def main(argv: list[str]) -> int:
    provider, cluster = context()
    names = hostlist.expand(argv[0]) if argv else []
    log("suspend", f"terminating {len(names)} node(s): {argv[0] if argv else ''}")
    try:
        provider.terminate(cluster, names)
    except CorralError as exc:
        log("suspend", f"failed: {exc}")
        return 1
    log("suspend", "done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
