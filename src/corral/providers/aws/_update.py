"""update-cluster on AWS: the stack set through a change set, then the head node applies the config.

1. The new plan's artefacts go to the cluster's prefix in its bucket: ``cluster.json`` (the plan the
   nodes rebuild) and the templates (nested stacks first, then the root's ``main.json``); the munge
   key stays.
2. A change set on the root stack (nested stacks follow through their new template URLs) is
   created and waited for; each change is reported as an event (action, type, replacement), then
   the change set is executed and the stack waited for (UPDATE_COMPLETE; a failed update is
   rolled back by CloudFormation itself and raises). A change set CloudFormation finds empty is
   deleted and skipped: the update may change only what the head node applies.
3. The head node applies the new config (``corral.providers.aws.node_update`` through SSM Run
   Command): it rebuilds the plan from the bucket with the same code as at boot, rewrites
   slurm.conf, reconfigures or restarts slurmctld, and runs the agent's ``updated`` phase
   (OnNodeUpdated), as the local head does. Skipped on a rollback's OnNodeUpdated.

The aws provider applies exactly what pcluster's update policies allow (``live_update_kinds`` is
empty): replacing compute nodes live is not implemented here yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from corral.errors import ProviderError
from corral.plan import ClusterPlan
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import aws_call
from corral.providers.aws._stack import wait

UPDATE_DONE = frozenset({"UPDATE_COMPLETE"})
UPDATE_FAILED = frozenset({"UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED"})
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
#: The head node's update program (``node_update``), as SSM runs it.
HEAD_PROGRAM = ("/opt/corral/bin/python", "-m", "corral.providers.aws.node_update")
Report = Callable[[str, str], None]


def change_set_name(now: float | None = None) -> str:
    return f"corral-update-{int((now or time.time()) * 1000)}"


def update_stack(
    clients: AwsClients, name: str, template_url: str, parameters: dict[str, str], report: Report
) -> bool:
    """Create, describe and execute a change set on stack ``name``; wait for UPDATE_COMPLETE.
    False when CloudFormation finds nothing to change (the change set is deleted)."""
    cfn = clients.cfn
    change_set = change_set_name()
    aws_call(
        "CreateChangeSet",
        cfn.create_change_set,
        StackName=name,
        ChangeSetName=change_set,
        ChangeSetType="UPDATE",
        TemplateURL=template_url,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=CAPABILITIES,
    )
    described = _wait_change_set(cfn, name, change_set)
    if described is None:
        aws_call("DeleteChangeSet", cfn.delete_change_set, StackName=name, ChangeSetName=change_set)
        report("CloudFormation", "change set has no changes: the stack stays as it is")
        return False
    for change in described.get("Changes", []):
        rc = change.get("ResourceChange", {})
        replacement = f" (replacement: {rc['Replacement']})" if rc.get("Replacement") else ""
        report(
            rc.get("LogicalResourceId", "?"),
            f"{rc.get('Action', '?')} {rc.get('ResourceType', '')}{replacement}",
        )
    aws_call("ExecuteChangeSet", cfn.execute_change_set, StackName=name, ChangeSetName=change_set)
    report("CloudFormation", f"change set {change_set} executed")
    wait(clients, name, done=UPDATE_DONE, failed=UPDATE_FAILED, report=report)
    return True


def _wait_change_set(cfn: Any, name: str, change_set: str, timeout_s: float = 600.0) -> dict[str, Any] | None:
    """The change set once CREATE_COMPLETE; None when it failed for having no changes."""
    deadline = time.monotonic() + timeout_s
    while True:
        got: dict[str, Any] = aws_call(
            "DescribeChangeSet", cfn.describe_change_set, StackName=name, ChangeSetName=change_set
        )
        status = got.get("Status", "")
        if status == "CREATE_COMPLETE":
            return got
        if status == "FAILED":
            reason = str(got.get("StatusReason", ""))
            if "didn't contain changes" in reason or "No updates" in reason:
                return None
            raise ProviderError(
                f"CloudFormation refused the update of stack {name!r}: {reason}",
                hint="see the change set in the CloudFormation console",
            )
        if time.monotonic() > deadline:
            raise ProviderError(
                f"change set {change_set} of stack {name!r} still {status} after {timeout_s:.0f} s"
            )
        time.sleep(1.0)


def apply_on_head(
    run_on_head: Callable[..., Any], name: str, plan: ClusterPlan, report: Report, *, rollback: bool
) -> None:
    """The head node rebuilds its config from the bucket and runs OnNodeUpdated (not on a
    rollback); a failure raises with the program's output tail (the service then rolls back)."""
    argv = [*HEAD_PROGRAM, *(["--no-actions"] if rollback else [])]
    result = run_on_head(name, argv, timeout=float(plan.head_node_bootstrap_timeout_s))
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ProviderError(
            f"the head node could not apply the update (exit {result.returncode}): {tail}",
            hint=f"see /var/log/corral on the head node (`corral ssh -n {name}`)",
        )
    report("HeadNode", "new config applied; OnNodeUpdated done")


__all__ = ["HEAD_PROGRAM", "apply_on_head", "change_set_name", "update_stack"]
