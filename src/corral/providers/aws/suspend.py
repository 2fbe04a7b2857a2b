"""Slurm's SuspendProgram on an AWS head node: ``python -m corral.providers.aws.suspend HOSTLIST``
terminates the nodes' instances (and forgets them in the node table)."""

from __future__ import annotations

import sys

from corral.errors import CorralError
from corral.slurm import hostlist


def main(argv: list[str]) -> int:
    from corral.providers.aws._program import context, log

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
