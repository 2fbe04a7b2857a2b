"""Update policies: what ParallelCluster allows when a config field changes on a live cluster.

Every model field carries one of these (the ``upd=`` column of the 3.16 schema tree) in its
``json_schema_extra["update_policy"]``; :func:`policy_of` reads it back. ``corral.plan.diff`` uses the
policy of each changed key to decide whether the change may go ahead in the current fleet state and
what the user should do otherwise.
"""

from __future__ import annotations

import enum
from typing import Any


class PolicyClass(enum.StrEnum):
    """How a policy decides, coarsely: the four families the brief and the UI group changes by."""

    ALWAYS = "always"  # the change is applied live
    NEVER = "never"  # the change needs a new cluster
    FLEET_STOP = "fleet must be stopped"  # compute (and/or login) nodes must be down
    STRATEGY = "strategy"  # allowed when a QueueUpdateStrategy/fleet state/other condition holds


_STOP_FLEET = "stop the compute fleet with `corral update-compute-fleet -n NAME --status STOP_REQUESTED`"
_STOP_LOGIN = "stop the login nodes by setting `Count: 0` on every login node pool and updating first"


class UpdatePolicy(enum.StrEnum):
    """Every ``upd=`` value in ParallelCluster 3.16's cluster and image-builder schema trees."""

    description: str
    policy_class: PolicyClass
    remedy: str

    def __new__(cls, value: str, description: str, policy_class: PolicyClass, remedy: str) -> UpdatePolicy:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        member.policy_class = policy_class
        member.remedy = remedy
        return member

    IGNORED = (
        "IGNORED",
        "changes are ignored: the section itself carries no update semantics",
        PolicyClass.ALWAYS,
        "",
    )
    SUPPORTED = ("SUPPORTED", "the change is applied to the running cluster", PolicyClass.ALWAYS, "")
    UNSUPPORTED = (
        "UNSUPPORTED",
        "the change cannot be applied to an existing cluster",
        PolicyClass.NEVER,
        "restore the previous value, or create a new cluster with the new config",
    )
    COMPUTE_FLEET_STOP = (
        "COMPUTE_FLEET_STOP",
        "the change needs every compute node stopped",
        PolicyClass.FLEET_STOP,
        _STOP_FLEET,
    )
    COMPUTE_FLEET_STOP_ON_REMOVE = (
        "COMPUTE_FLEET_STOP_ON_REMOVE",
        "adding is applied live; removing needs every compute node stopped",
        PolicyClass.STRATEGY,
        _STOP_FLEET,
    )
    QUEUE_UPDATE_STRATEGY = (
        "QUEUE_UPDATE_STRATEGY",
        "needs the compute fleet stopped, unless Scheduling/SlurmSettings/QueueUpdateStrategy is DRAIN or"
        " TERMINATE (nodes are replaced)",
        PolicyClass.STRATEGY,
        f"{_STOP_FLEET}, or set QueueUpdateStrategy: DRAIN or TERMINATE",
    )
    RESIZE_UPDATE_STRATEGY_ON_REMOVE = (
        "RESIZE_UPDATE_STRATEGY_ON_REMOVE",
        "adding capacity is applied live; removing queues, compute resources or capacity needs the compute"
        " fleet stopped unless QueueUpdateStrategy is TERMINATE",
        PolicyClass.STRATEGY,
        f"{_STOP_FLEET}, or set QueueUpdateStrategy: TERMINATE",
    )
    MANAGED_PLACEMENT_GROUP = (
        "MANAGED_PLACEMENT_GROUP",
        "removing a Corral-managed placement group needs the compute fleet stopped; otherwise as"
        " QUEUE_UPDATE_STRATEGY",
        PolicyClass.STRATEGY,
        f"{_STOP_FLEET}, or set QueueUpdateStrategy: DRAIN or TERMINATE",
    )
    MANAGED_FSX = (
        "MANAGED_FSX",
        "changing subnets needs the compute fleet stopped when the cluster manages an FSx for Lustre file"
        " system; otherwise as QUEUE_UPDATE_STRATEGY",
        PolicyClass.STRATEGY,
        f"{_STOP_FLEET}, or set QueueUpdateStrategy: DRAIN or TERMINATE",
    )
    SHARED_STORAGE_UPDATE_POLICY = (
        "SHARED_STORAGE_UPDATE_POLICY",
        "mounting or unmounting an existing EFS/FSx/File Cache is applied live; other storage changes need"
        " the login nodes stopped, and the compute fleet stopped unless QueueUpdateStrategy is set",
        PolicyClass.STRATEGY,
        f"{_STOP_LOGIN}; and {_STOP_FLEET}, or set QueueUpdateStrategy: DRAIN or TERMINATE",
    )
    COMPUTE_AND_LOGIN_NODES_STOP = (
        "COMPUTE_AND_LOGIN_NODES_STOP",
        "the change needs every compute node and every login node stopped",
        PolicyClass.FLEET_STOP,
        f"{_STOP_FLEET}, and {_STOP_LOGIN}",
    )
    LOGIN_NODES_STOP = (
        "LOGIN_NODES_STOP",
        "the change needs every login node stopped",
        PolicyClass.FLEET_STOP,
        _STOP_LOGIN,
    )
    LOGIN_NODES_POOL_STOP = (
        "LOGIN_NODES_POOL_STOP",
        "the change needs the login nodes of this pool stopped",
        PolicyClass.FLEET_STOP,
        "set `Count: 0` on this login node pool and update first",
    )
    LOGIN_NODES_POOLS_UPDATE_POLICY = (
        "LOGIN_NODES_POOLS_UPDATE_POLICY",
        "adding a login node pool is applied live; removing one needs its login nodes stopped",
        PolicyClass.STRATEGY,
        "set `Count: 0` on the pool being removed and update first",
    )
    SUPPORTED_UNLESS_ADC = (
        "SUPPORTED_UNLESS_ADC",
        "applied live, except in AWS ADC (us-iso*) regions",
        PolicyClass.ALWAYS,
        "restore the previous value (ADC regions only)",
    )
    READ_ONLY_RESOURCE_BUCKET = (
        "READ_ONLY_RESOURCE_BUCKET",
        "the cluster's resource bucket is fixed at creation",
        PolicyClass.NEVER,
        "restore the previous value of CustomS3Bucket",
    )
    EXTRA_CHEF_ATTRIBUTES = (
        "EXTRA_CHEF_ATTRIBUTES",
        "only the cluster/slurm/reconfigure_enabled style attributes may change live; others need a new"
        " cluster",
        PolicyClass.STRATEGY,
        "restore the previous value of ExtraChefAttributes",
    )


def policy_of(model_cls: Any, field_name: str) -> UpdatePolicy:
    """Return the update policy attached to ``model_cls.field_name`` (``UNSUPPORTED`` when none is).

    ``model_cls`` is a config model class (or instance); ``field_name`` is the snake_case attribute.
    Raises ``KeyError`` if the model has no such field.
    """
    field = model_cls.model_fields[field_name]
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("update_policy"), str):
        return UpdatePolicy(extra["update_policy"])  # type: ignore[call-arg]
    return UpdatePolicy.UNSUPPORTED


__all__ = ["PolicyClass", "UpdatePolicy", "policy_of"]
