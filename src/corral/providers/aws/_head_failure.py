"""Why the head node's bootstrap failed, kept where ``describe-cluster`` can find it.

CloudFormation's ``SignalResource`` carries no reason, so the stack's own failure only says that
the head node sent FAILURE. The head node's program also writes the agent's failure message (a
storage step's ``mount`` error, a custom action's exit, ...) into the cluster's node table under
``HEAD_ITEM`` (never a Slurm node name), and the provider adds it to the create's error, which
becomes the cluster's ``failures`` in ``describe-cluster``.
"""

from __future__ import annotations

from corral.errors import CorralError
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import aws_call

HEAD_ITEM = "corral:head-bootstrap"


def record(clients: AwsClients, table: str, message: str) -> str | None:
    """Write ``message``; why it could not be written, or None."""
    item = {"Id": {"S": HEAD_ITEM}, "Failure": {"S": message[:2000] or "bootstrap failed"}}
    try:
        aws_call("PutItem", clients.ddb.put_item, TableName=table, Item=item)
    except CorralError as exc:
        return str(exc)
    return None


def read(clients: AwsClients, table: str) -> str | None:
    """The head node's recorded bootstrap failure, or None (none recorded, or no table)."""
    try:
        found = aws_call("GetItem", clients.ddb.get_item, TableName=table, Key={"Id": {"S": HEAD_ITEM}})
    except CorralError:
        return None
    value = found.get("Item", {}).get("Failure", {}).get("S")
    return str(value) if value else None


__all__ = ["HEAD_ITEM", "read", "record"]
