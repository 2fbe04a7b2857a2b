"""Compute nodes in the cluster's private hosted zone, as pcluster registers them.

When the ResumeProgram launches nodes, each gets an ``A`` record ``<node name>.<domain>`` -> its
private IP; when they are terminated the records go. The domain is the managed zone's,
``<cluster>.pcluster.``, or ``<cluster>.<zone name>`` in an existing zone named by
``Scheduling/SlurmSettings/Dns/HostedZoneId``. Nothing is written with ``DisableManagedDns``
(the stack then has no ``HostedZoneId`` output) or ``UseEc2Hostnames`` (nodes keep EC2's names).
``changes`` decides (pure); ``upsert``/``remove`` call Route 53.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from corral.plan import ClusterPlan
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import BOTO_ERRORS, aws_call, error_code, translate

ZONE_OUTPUT = "HostedZoneId"
TTL = 300


def writes_records(plan: ClusterPlan) -> bool:
    """Whether compute nodes get records (managed DNS on, EC2 host names off)."""
    if plan.config is None:
        return True
    dns = plan.config.scheduling.slurm_settings.dns
    return not dns.disable_managed_dns and not dns.use_ec2_hostnames


def domain(plan: ClusterPlan, zone_name: str | None) -> str:
    """The domain of the cluster's node records (with the trailing dot)."""
    cluster = plan.cluster_name.lower()
    given = plan.config.scheduling.slurm_settings.dns.hosted_zone_id if plan.config is not None else None
    if given and zone_name:
        return f"{cluster}.{zone_name.rstrip('.')}."
    return f"{cluster}.pcluster."


def changes(action: str, domain_name: str, nodes: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Route 53 changes (``UPSERT`` or ``DELETE``) for ``(node name, private IP)`` pairs. Pure."""
    return [
        {
            "Action": action,
            "ResourceRecordSet": {
                "Name": f"{name}.{domain_name}",
                "Type": "A",
                "TTL": TTL,
                "ResourceRecords": [{"Value": ip}],
            },
        }
        for name, ip in nodes
        if name and ip
    ]


def zone_name(clients: AwsClients, zone_id: str) -> str:
    found = aws_call("GetHostedZone", clients.client("route53").get_hosted_zone, Id=zone_id)
    return str(found["HostedZone"]["Name"])


def upsert(clients: AwsClients, zone_id: str, domain_name: str, nodes: Sequence[tuple[str, str]]) -> None:
    batch = changes("UPSERT", domain_name, nodes)
    if batch:
        aws_call(
            "ChangeResourceRecordSets",
            clients.client("route53").change_resource_record_sets,
            HostedZoneId=zone_id,
            ChangeBatch={"Comment": "corral: compute nodes launched", "Changes": batch},
        )


def remove(clients: AwsClients, zone_id: str, domain_name: str, nodes: Sequence[tuple[str, str]]) -> None:
    """Delete the nodes' records: one batch, or, when the batch is refused because a record is
    already gone (or holds another address), one at a time, so the others still go."""
    route53 = clients.client("route53")
    batch = changes("DELETE", domain_name, nodes)
    if not batch:
        return
    try:
        route53.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Comment": "corral: nodes terminated", "Changes": batch}
        )
        return
    except BOTO_ERRORS as exc:
        if error_code(exc) == "NoSuchHostedZone":
            return
        if error_code(exc) != "InvalidChangeBatch":
            raise translate(exc, "ChangeResourceRecordSets") from exc
    for change in batch:
        try:
            route53.change_resource_record_sets(
                HostedZoneId=zone_id, ChangeBatch={"Comment": "corral: node terminated", "Changes": [change]}
            )
        except BOTO_ERRORS as exc:
            if error_code(exc) not in ("InvalidChangeBatch", "NoSuchHostedZone"):
                raise translate(exc, "ChangeResourceRecordSets") from exc


__all__ = ["ZONE_OUTPUT", "changes", "domain", "remove", "upsert", "writes_records", "zone_name"]
