"""Shared plumbing of the programs Slurm runs on an AWS head node (Resume, Suspend).

The node's user data writes ``/etc/corral/cluster.json`` (cluster name, region, ...);
``CORRAL_CLUSTER_CONFIG`` names another file. The instance role gives the credentials.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from corral.providers.aws._settings import CLUSTER_FILE, AwsSettings
from corral.providers.aws.provider import AwsProvider
from corral.runtime.proclog import emit

STATE_DIR = Path("/var/lib/corral")


#: ``log(program, message)``: the one process log line (``corral.runtime.proclog``)
log = emit


def context() -> tuple[AwsProvider, str]:
    """The provider and the cluster name of this head node."""
    settings = AwsSettings.from_env()
    path = settings.cluster_config
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cluster, region = str(data["cluster_name"]), str(data.get("region") or "")
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"cannot read the cluster context {path}: {exc}")
    if region:
        os.environ.setdefault("AWS_REGION", region)
    provider = AwsProvider(Path(os.environ.get("CORRAL_STATE_DIR", str(STATE_DIR))), settings)
    provider.remember(data)
    return provider, cluster


__all__ = ["CLUSTER_FILE", "context", "log"]
