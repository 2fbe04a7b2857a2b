"""The verbs that open a session on a cluster's node: ``ssh`` (the argv of pcluster's
``ssh USER@HEAD ARGS``) and ``dcv-connect`` (the one-time URL of a NICE DCV session on the head
node or a login node)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from corral.errors import BadRequestError, ConflictError
from corral.providers.base import DcvTarget, Provider
from corral.state import ClusterRecord, StackStatus

if TYPE_CHECKING:
    from corral.config.model import ClusterConfig

#: The stack states in which the head node answers (pcluster refuses the others the same way).
REACHABLE = (
    StackStatus.CREATE_COMPLETE,
    StackStatus.UPDATE_COMPLETE,
    StackStatus.UPDATE_IN_PROGRESS,
    StackStatus.UPDATE_ROLLBACK_COMPLETE,
    StackStatus.UPDATE_FAILED,
)


class AccessVerbs:
    """``ssh`` and ``dcv-connect`` of ``ClusterService`` (which provides ``provider`` and ``get``)."""

    if TYPE_CHECKING:

        def provider(self, name: str) -> Provider: ...

        def get(self, cluster_name: str) -> ClusterRecord: ...

    def _reachable(self, cluster_name: str) -> ClusterRecord:
        record = self.get(cluster_name)
        if record.stack_status not in REACHABLE:
            raise ConflictError(
                f"Unable to connect to the cluster {cluster_name}: it is {record.cluster_status}",
                hint=f"wait until `corral describe-cluster -n {cluster_name}` shows CREATE_COMPLETE",
            )
        return record

    def ssh_argv(
        self,
        cluster_name: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        login_pool: str | None = None,
    ) -> list[str]:
        """The argv that opens a shell (or runs ``argv``) on the head node, or with ``login_pool``
        on one of that pool's login nodes (round robin, as its load balancer spreads sessions)."""
        record = self._reachable(cluster_name)
        provider = self.provider(record.provider)
        if login_pool is not None:
            return provider.login_shell_argv(cluster_name, login_pool, argv, user=user)
        return provider.head_shell_argv(cluster_name, argv, user=user)

    def dcv_url(
        self, cluster_name: str, *, login_node_ip: str | None = None, key_path: str | None = None
    ) -> str:
        """The one-time URL of a DCV session on the head node (or on the login node at
        ``login_node_ip``), as ``pcluster dcv-connect`` opens; refused, as pcluster refuses it, when
        that node's ``Dcv/Enabled`` is not true."""
        record = self._reachable(cluster_name)
        target = dcv_target(cluster_name, _config(record), login_node_ip)
        return self.provider(record.provider).dcv_url(cluster_name, target, key_path=key_path)


def _config(record: ClusterRecord) -> ClusterConfig:
    from corral.config.loader import load_cluster_config_text

    return load_cluster_config_text(record.config_text, record.config_path or "cluster.yaml").config


def dcv_target(cluster_name: str, config: ClusterConfig, login_node_ip: str | None) -> DcvTarget:
    """Which node's DCV server ``dcv-connect`` asks for, from the cluster's config."""
    if login_node_ip is None:
        dcv: Any = config.head_node.dcv
        if dcv is None or not dcv.enabled:
            raise BadRequestError(
                f"DCV is not enabled on the head node of cluster {cluster_name}",
                hint="set HeadNode/Dcv/Enabled: true in a new cluster (the setting cannot be updated)",
            )
        return DcvTarget(node_type="HeadNode", address=None, port=int(dcv.port))
    pools = [p for p in (config.login_nodes.pools if config.login_nodes else ()) if p.dcv and p.dcv.enabled]
    if not pools:
        raise BadRequestError(
            f"DCV is not enabled on any login node pool of cluster {cluster_name}",
            hint="set LoginNodes/Pools/Dcv/Enabled: true for the pool",
        )
    port = pools[0].dcv.port if pools[0].dcv is not None else 8443
    return DcvTarget(node_type="LoginNode", address=login_node_ip, port=int(port))
