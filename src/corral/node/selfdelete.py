"""``corral`` on a cluster's own nodes: ``corral delete-cluster -n NAME`` from a job, a custom action
or a shell on the cluster deletes that cluster, as ``pcluster delete-cluster`` run on a head node
does (the HPC Ops pattern: the workload deletes its own stack when it is done).

A node cannot stop the machine it runs on, so this command only *asks*: it writes a request into
the cluster's request directory (``CORRAL_REQUEST_DIR``), and the head node's reconciler, which
reads that directory at every pass, deletes the cluster from the outside through the provider
(``Provider.expire``, the path a cluster's time-to-live takes). Only the node's own cluster can be
named. It prints pcluster's ``DeleteCluster`` answer and exits 0; the delete follows within a
reconciler pass. Standard library only: it runs on the image's Python.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import socket
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

#: The file a delete request is written to, in the cluster's request directory.
DELETE_REQUEST = "delete-cluster"

ONLY = "on a cluster node, corral runs only `corral delete-cluster -n {name}` (this cluster)"


def _fail(message: str, code: int = 1) -> int:
    print(json.dumps({"message": message}, indent=2))
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corral", add_help=True)
    verbs = parser.add_subparsers(dest="verb")
    delete = verbs.add_parser("delete-cluster", help="delete this cluster (from inside it)")
    delete.add_argument("-n", "--cluster-name", required=True)
    delete.add_argument("-r", "--region")
    delete.add_argument("--debug", action="store_true")
    delete.add_argument("--query")
    return parser


def request_delete(request_dir: Path, *, node: str, user: str) -> Path:
    """Write the delete request (who asked, from where, when) atomically; return its path."""
    body = {"requestedAt": datetime.now(UTC).isoformat(), "node": node, "user": user}
    fd, tmp = tempfile.mkstemp(dir=request_dir, prefix=".req-")
    with os.fdopen(fd, "w") as handle:
        json.dump(body, handle)
    os.chmod(tmp, 0o644)
    target = request_dir / DELETE_REQUEST
    os.replace(tmp, target)
    return target


def main(argv: list[str] | None = None) -> int:
    name = os.environ.get("CORRAL_CLUSTER_NAME", "")
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "delete-cluster":
        return _fail(ONLY.format(name=name or "NAME") + "; run other verbs where the cluster was created")
    parsed = _parser().parse_args(args)
    if parsed.cluster_name != name:
        return _fail(
            f"Cluster {parsed.cluster_name} cannot be deleted from here: this node belongs to cluster"
            f" {name} ({ONLY.format(name=name)})"
        )
    request_dir = Path(os.environ.get("CORRAL_REQUEST_DIR", ""))
    if not request_dir.is_dir():
        return _fail(f"cluster {name}'s request directory {request_dir} is missing: ask its owner")
    user = pwd.getpwuid(os.getuid()).pw_name
    try:
        request_delete(request_dir, node=socket.gethostname(), user=user)
    except OSError as exc:
        return _fail(f"could not ask for the delete of cluster {name}: {exc}")
    cluster = {
        "clusterName": name,
        "clusterStatus": "DELETE_IN_PROGRESS",
        "cloudformationStackStatus": "DELETE_IN_PROGRESS",
        "region": os.environ.get("CORRAL_CLUSTER_REGION", ""),
        "version": os.environ.get("CORRAL_PCLUSTER_VERSION", ""),
        "scheduler": {"type": "slurm"},
    }
    print(json.dumps({"cluster": cluster}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
