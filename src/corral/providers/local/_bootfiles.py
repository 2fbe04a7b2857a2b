"""What a ParallelCluster custom action script expects to find on its node (pure renderers).

Inside every node (never on the host, see ``corral.node.nodefiles``):

- ``/etc/parallelcluster/cfnconfig``: the shell-sourceable file scripts read with
  ``. /etc/parallelcluster/cfnconfig``; ``cfn_node_type`` is ``HeadNode`` or ``ComputeFleet``.
- ``/opt/parallelcluster/shared/cluster-config.yaml``: the cluster config.
- ``/usr/local/bin/corral`` (nodes booted from an image): ``corral delete-cluster -n NAME`` deletes
  the node's own cluster from inside it (``corral.node.selfdelete``).
- ``/etc/chef/dna.json``: the node's identity as ParallelCluster's cookbook records it
  (``cluster.node_type``, ``cluster.scheduler_queue_name``, ``cluster.scheduler_compute_resource_name``).

and in the environment of every script: ``CORRAL_CLUSTER_NAME``, ``CORRAL_NODE_TYPE``,
``CORRAL_NODE_NAME``, ``CORRAL_QUEUE``, ``CORRAL_COMPUTE_RESOURCE`` (compute nodes),
``CORRAL_EVENT`` and ``CORRAL_CLUSTER_CONFIG``.
"""

from __future__ import annotations

import json
import shlex

from corral import PCLUSTER_COMPAT_VERSION
from corral.providers.local._layout import ClusterDescriptor, NodeRecord

CFNCONFIG = "/etc/parallelcluster/cfnconfig"
CLUSTER_CONFIG = "/opt/parallelcluster/shared/cluster-config.yaml"
DNA_JSON = "/etc/chef/dna.json"
CORRAL_LAUNCHER = "/usr/local/bin/corral"
HEAD_NODE_TYPE = "HeadNode"
COMPUTE_NODE_TYPE = "ComputeFleet"
# ParallelCluster's default user per OS family.
_CLUSTER_USER = {"ubuntu": "ubuntu", "rocky": "rocky"}


def cluster_user(os_name: str) -> str:
    for prefix, user in _CLUSTER_USER.items():
        if os_name.startswith(prefix):
            return user
    return "ec2-user"


def render_cfnconfig(descriptor: ClusterDescriptor, node: NodeRecord | None) -> str:
    """``/etc/parallelcluster/cfnconfig`` for the head node (``node`` None) or a compute node."""
    shared = [s.mount_dir for s in descriptor.storage if s.storage_type not in ("", "Home")]
    values = {
        "stack_name": descriptor.name,
        "cfn_region": descriptor.region or "us-east-1",
        "cfn_scheduler": "slurm",
        "cfn_node_type": COMPUTE_NODE_TYPE if node else HEAD_NODE_TYPE,
        "cfn_cluster_user": cluster_user(descriptor.os),
        "cfn_head_node": descriptor.head_hostname,
        "cfn_head_node_private_ip": descriptor.head_address,
        "cfn_base_os": descriptor.os,
        "cfn_shared_dirs": ",".join(shared) or "NONE",
        "cfn_ephemeral_dir": descriptor.ephemeral_dir(node.queue if node else None),
        "cfn_proxy": "NONE",
    }
    return "".join(f"{k}={v}\n" for k, v in values.items())


def render_dna(descriptor: ClusterDescriptor, node: NodeRecord | None) -> str:
    cluster = {
        "stack_name": descriptor.name,
        "cluster_name": descriptor.name,
        "node_type": COMPUTE_NODE_TYPE if node else HEAD_NODE_TYPE,
        "region": descriptor.region or "us-east-1",
        "base_os": descriptor.os,
        "head_node_private_ip": descriptor.head_address,
        "scheduler": "slurm",
        "ephemeral_dir": descriptor.ephemeral_dir(node.queue if node else None),
    }
    if node:
        cluster["scheduler_queue_name"] = node.queue
        cluster["scheduler_compute_resource_name"] = node.compute_resource
        cluster["instance_type"] = node.instance_type
    return json.dumps({"cluster": cluster}, indent=2) + "\n"


def node_files(descriptor: ClusterDescriptor, node: NodeRecord | None) -> tuple[tuple[str, str], ...]:
    config = descriptor.cluster_config or "# built from a plan without a config file\n"
    return (
        (CFNCONFIG, render_cfnconfig(descriptor, node)),
        (DNA_JSON, render_dna(descriptor, node)),
        (CLUSTER_CONFIG, config),
    )


def render_corral_launcher(descriptor: ClusterDescriptor, requests_dir: str, corral_lib: str) -> str:
    """``/usr/local/bin/corral`` on an image-rooted node: ``corral delete-cluster -n NAME`` from a
    job or a shell asks the head node's reconciler to delete this cluster."""
    env = {
        "CORRAL_CLUSTER_NAME": descriptor.name,
        "CORRAL_REQUEST_DIR": requests_dir,
        "CORRAL_CLUSTER_REGION": descriptor.region,
        "CORRAL_PCLUSTER_VERSION": PCLUSTER_COMPAT_VERSION,
        "PYTHONPATH": corral_lib,
    }
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return (
        "#!/bin/sh\n"
        f"# corral on a node of cluster {descriptor.name}: only `corral delete-cluster -n NAME`\n"
        f'{assignments} exec python3 -m corral.node.selfdelete "$@"\n'
    )


def script_environment(descriptor: ClusterDescriptor, node: NodeRecord | None) -> dict[str, str]:
    """The CORRAL_* variables every custom action sees (the agent adds CORRAL_EVENT)."""
    env = {
        "CORRAL_CLUSTER_NAME": descriptor.name,
        "CORRAL_NODE_TYPE": COMPUTE_NODE_TYPE if node else HEAD_NODE_TYPE,
        "CORRAL_CLUSTER_CONFIG": CLUSTER_CONFIG,
    }
    if node:
        env["CORRAL_QUEUE"] = node.queue
        env["CORRAL_COMPUTE_RESOURCE"] = node.compute_resource
        env["CORRAL_INSTANCE_TYPE"] = node.instance_type
    return env
