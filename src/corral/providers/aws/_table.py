"""The cluster's DynamoDB table of compute nodes: which instance backs which Slurm node.

One item per node, keyed by ``Id`` = the Slurm node name (ParallelCluster keeps the same mapping
in its table), with the instance id, private IP, queue, compute resource and launch time. The
Resume program writes it; Suspend, the reconciler and ``instances`` read it. Tags on the instances
carry the same facts, so the table is an index, never the only truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import aws_call


@dataclass(frozen=True)
class NodeRecord:
    node_name: str
    instance_id: str
    private_ip: str
    queue: str
    compute_resource: str
    launch_time: datetime


def put(clients: AwsClients, table: str, records: Iterable[NodeRecord]) -> None:
    """Record (or overwrite) each node's instance."""
    items = [
        {
            "PutRequest": {
                "Item": {
                    "Id": {"S": r.node_name},
                    "InstanceId": {"S": r.instance_id},
                    "PrivateIp": {"S": r.private_ip},
                    "Queue": {"S": r.queue},
                    "ComputeResource": {"S": r.compute_resource},
                    "LaunchTime": {"S": r.launch_time.isoformat()},
                }
            }
        }
        for r in records
    ]
    for start in range(0, len(items), 25):  # BatchWriteItem takes at most 25 requests
        aws_call(
            "BatchWriteItem",
            clients.ddb.batch_write_item,
            RequestItems={table: items[start : start + 25]},
        )


def get(clients: AwsClients, table: str, node_names: Sequence[str]) -> dict[str, NodeRecord]:
    """The records of these nodes that exist, by node name."""
    found: dict[str, NodeRecord] = {}
    names = list(dict.fromkeys(node_names))
    for start in range(0, len(names), 100):  # BatchGetItem takes at most 100 keys
        keys = [{"Id": {"S": n}} for n in names[start : start + 100]]
        result = aws_call("BatchGetItem", clients.ddb.batch_get_item, RequestItems={table: {"Keys": keys}})
        for item in result.get("Responses", {}).get(table, []):
            record = _record(item)
            found[record.node_name] = record
    return found


def remove(clients: AwsClients, table: str, node_names: Sequence[str]) -> None:
    requests = [{"DeleteRequest": {"Key": {"Id": {"S": n}}}} for n in dict.fromkeys(node_names)]
    for start in range(0, len(requests), 25):
        aws_call(
            "BatchWriteItem",
            clients.ddb.batch_write_item,
            RequestItems={table: requests[start : start + 25]},
        )


def _record(item: dict[str, dict[str, str]]) -> NodeRecord:
    return NodeRecord(
        node_name=item["Id"]["S"],
        instance_id=item["InstanceId"]["S"],
        private_ip=item.get("PrivateIp", {}).get("S", ""),
        queue=item.get("Queue", {}).get("S", ""),
        compute_resource=item.get("ComputeResource", {}).get("S", ""),
        launch_time=datetime.fromisoformat(item["LaunchTime"]["S"]),
    )


__all__ = ["NodeRecord", "get", "put", "remove"]
