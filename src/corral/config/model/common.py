"""Sections shared by several parts of the cluster config: tags, IAM, images, DCV, IMDS, custom actions,
proxies, placement groups, capacity reservations, health checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, model_validator
from pydantic_core import PydanticCustomError

from corral.config.model._base import (
    AMI_ID,
    CIDR_OR_PREFIX_LIST,
    INSTANCE_PROFILE_ARN,
    POLICY_ARN,
    ROLE_ARN,
    Bool,
    ConfigModel,
    F,
    Int,
    Str,
    pattern,
)
from corral.config.policies import UpdatePolicy as P


class Tag(ConfigModel):
    """A cluster-level tag (``TagSchema``); also used by image-builder and AMI search filters."""

    key: Str = F("Key", P.UNSUPPORTED, max_length=128)
    value: Str = F("Value", P.SUPPORTED_UNLESS_ADC, max_length=256)


class QueueTag(ConfigModel):
    """A tag on a queue or a compute resource (``QueueTagSchema``)."""

    key: Str = F("Key", P.QUEUE_UPDATE_STRATEGY, max_length=128)
    value: Str = F("Value", P.QUEUE_UPDATE_STRATEGY, max_length=256)


class AdditionalIamPolicy(ConfigModel):
    policy: POLICY_ARN = F("Policy", P.SUPPORTED)


class S3Access(ConfigModel):
    bucket_name: Annotated[
        Str, pattern(r"^[\*a-z0-9\-\.]+$", "an S3 bucket name (a-z, 0-9, '-', '.', '*')")
    ] = F("BucketName", P.SUPPORTED)
    key_name: Str | None = F("KeyName", P.SUPPORTED, None)
    enable_write_access: Bool = F("EnableWriteAccess", P.SUPPORTED, False)


def _check_iam_exclusive(role: Any, profile: Any, policies: Any) -> None:
    # ParallelCluster: InstanceRole, InstanceProfile and AdditionalIamPolicies are mutually exclusive.
    if sum(1 for v in (role, profile, policies) if v) > 1:
        raise PydanticCustomError(
            "iam_exclusive",
            "InstanceProfile, InstanceRole or AdditionalIamPolicies can not be configured together",
        )


def _check_s3_access(role: Any, profile: Any, s3: Any) -> None:
    if s3 and role:
        raise PydanticCustomError("iam_exclusive", "S3Access can not be configured when InstanceRole is set")
    if s3 and profile:
        raise PydanticCustomError(
            "iam_exclusive", "S3Access can not be configured when InstanceProfile is set"
        )


class HeadNodeIam(ConfigModel):
    instance_role: ROLE_ARN | None = F("InstanceRole", P.SUPPORTED, None)
    instance_profile: INSTANCE_PROFILE_ARN | None = F("InstanceProfile", P.UNSUPPORTED, None)
    additional_iam_policies: tuple[AdditionalIamPolicy, ...] = F("AdditionalIamPolicies", P.SUPPORTED, ())
    s3_access: tuple[S3Access, ...] = F("S3Access", P.SUPPORTED, ())

    @model_validator(mode="after")
    def _exclusive(self) -> HeadNodeIam:
        _check_iam_exclusive(self.instance_role, self.instance_profile, self.additional_iam_policies)
        _check_s3_access(self.instance_role, self.instance_profile, self.s3_access)
        return self


class QueueIam(ConfigModel):
    instance_role: ROLE_ARN | None = F("InstanceRole", P.SUPPORTED, None)
    instance_profile: INSTANCE_PROFILE_ARN | None = F("InstanceProfile", P.COMPUTE_FLEET_STOP, None)
    additional_iam_policies: tuple[AdditionalIamPolicy, ...] = F("AdditionalIamPolicies", P.SUPPORTED, ())
    s3_access: tuple[S3Access, ...] = F("S3Access", P.SUPPORTED, ())

    @model_validator(mode="after")
    def _exclusive(self) -> QueueIam:
        _check_iam_exclusive(self.instance_role, self.instance_profile, self.additional_iam_policies)
        _check_s3_access(self.instance_role, self.instance_profile, self.s3_access)
        return self


class LoginNodesIam(ConfigModel):
    instance_role: ROLE_ARN | None = F("InstanceRole", P.LOGIN_NODES_POOL_STOP, None)
    instance_profile: INSTANCE_PROFILE_ARN | None = F("InstanceProfile", P.LOGIN_NODES_POOL_STOP, None)
    additional_iam_policies: tuple[AdditionalIamPolicy, ...] = F(
        "AdditionalIamPolicies", P.LOGIN_NODES_POOL_STOP, ()
    )

    @model_validator(mode="after")
    def _exclusive(self) -> LoginNodesIam:
        _check_iam_exclusive(self.instance_role, self.instance_profile, self.additional_iam_policies)
        return self


class Dcv(ConfigModel):
    #: Optional in the schema, but ParallelCluster cannot build the section without it: required here.
    enabled: Bool = F("Enabled", P.UNSUPPORTED)
    port: Int = F("Port", P.UNSUPPORTED, 8443)
    allowed_ips: CIDR_OR_PREFIX_LIST = F("AllowedIps", P.SUPPORTED, "0.0.0.0/0")


class Imds(ConfigModel):
    """The head node's ``Imds`` section (``Secured``)."""

    secured: Bool = F("Secured", P.UNSUPPORTED, True)


class TopLevelImds(ConfigModel):
    """The top-level ``Imds`` section (``ImdsSupport``); the tree names it ``ImdsSchema`` too."""

    imds_support: Literal["v1.0", "v2.0"] = F("ImdsSupport", P.UNSUPPORTED, "v2.0")


class HeadNodeImage(ConfigModel):
    #: Optional in the schema, but ParallelCluster cannot build the section without it: required here.
    custom_ami: AMI_ID = F("CustomAmi", P.UNSUPPORTED)


class QueueImage(ConfigModel):
    #: Optional in the schema, but ParallelCluster cannot build the section without it: required here.
    custom_ami: AMI_ID = F("CustomAmi", P.QUEUE_UPDATE_STRATEGY)


class LoginNodesImage(ConfigModel):
    #: Optional in the schema, but ParallelCluster cannot build the section without it: required here.
    custom_ami: AMI_ID = F("CustomAmi", P.LOGIN_NODES_POOL_STOP)


class HeadNodeProxy(ConfigModel):
    http_proxy_address: Str | None = F("HttpProxyAddress", P.UNSUPPORTED, None)


class QueueProxy(ConfigModel):
    http_proxy_address: Str | None = F("HttpProxyAddress", P.QUEUE_UPDATE_STRATEGY, None)


class LoginNodeProxy(ConfigModel):
    http_proxy_address: Str | None = F("HttpProxyAddress", P.SUPPORTED, None)


class PlacementGroup(ConfigModel):
    enabled: Bool | None = F("Enabled", P.MANAGED_PLACEMENT_GROUP, None)
    id: Str | None = F("Id", P.MANAGED_PLACEMENT_GROUP, None)
    name: Str | None = F("Name", P.MANAGED_PLACEMENT_GROUP, None)


class CapacityReservationTarget(ConfigModel):
    capacity_reservation_id: Str | None = F("CapacityReservationId", P.QUEUE_UPDATE_STRATEGY, None)
    capacity_reservation_resource_group_arn: Str | None = F(
        "CapacityReservationResourceGroupArn", P.QUEUE_UPDATE_STRATEGY, None
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> CapacityReservationTarget:
        if bool(self.capacity_reservation_id) == bool(self.capacity_reservation_resource_group_arn):
            raise PydanticCustomError(
                "one_of",
                "set exactly one of CapacityReservationId or CapacityReservationResourceGroupArn",
            )
        return self


class GpuHealthCheck(ConfigModel):
    enabled: Bool | None = F("Enabled", P.SUPPORTED, None)


class HealthChecks(ConfigModel):
    gpu: GpuHealthCheck = F("Gpu", P.SUPPORTED, default_factory=GpuHealthCheck)


# ---------------------------------------------------------------- custom actions


class CustomActionScript(ConfigModel):
    """One script of a custom action event (``CustomActionScriptSchema*``)."""

    script: Str = F("Script", None)
    args: tuple[Str, ...] = F("Args", None, ())


def _one_or_many(value: Any) -> Any:
    """``{Script, Args}`` or ``{Sequence: [{Script, Args}, ...]}`` -> a list of script mappings."""
    if not isinstance(value, Mapping):
        return value  # pydantic reports the type error
    if "Script" in value and "Sequence" in value:
        raise PydanticCustomError(
            "one_of", "both Script and Sequence are set; use Script for one action or Sequence for several"
        )
    if "Sequence" in value:
        extra = sorted(str(k) for k in value if k != "Sequence")
        if extra:
            raise PydanticCustomError(
                "sequence_extra_keys", "unknown key(s) next to Sequence: {keys}", {"keys": ", ".join(extra)}
            )
        sequence = value["Sequence"]
        if not isinstance(sequence, list):
            raise PydanticCustomError("list_type", "Sequence must be a list of {Script, Args} items")
        return sequence
    if "Script" not in value:
        raise PydanticCustomError("one_of", "set Script (one action) or Sequence (a list of actions)")
    return [value]


#: One custom-action event, normalised to the ordered scripts it runs.
CustomActionScripts = Annotated[tuple[CustomActionScript, ...], BeforeValidator(_one_or_many)]


class HeadNodeCustomActions(ConfigModel):
    on_node_start: CustomActionScripts = F("OnNodeStart", P.UNSUPPORTED, ())
    on_node_configured: CustomActionScripts = F("OnNodeConfigured", P.UNSUPPORTED, ())
    on_node_updated: CustomActionScripts = F("OnNodeUpdated", P.SUPPORTED, ())


class LoginNodesCustomActions(ConfigModel):
    on_node_start: CustomActionScripts = F("OnNodeStart", P.UNSUPPORTED, ())
    on_node_configured: CustomActionScripts = F("OnNodeConfigured", P.UNSUPPORTED, ())
    on_node_updated: CustomActionScripts = F("OnNodeUpdated", P.SUPPORTED, ())


class QueueCustomActions(ConfigModel):
    on_node_start: CustomActionScripts = F("OnNodeStart", P.QUEUE_UPDATE_STRATEGY, ())
    on_node_configured: CustomActionScripts = F("OnNodeConfigured", P.QUEUE_UPDATE_STRATEGY, ())
