"""The image-builder config (``pcluster build-image``): :class:`ImageBuilderConfig`.

Names that clash with cluster-config classes are prefixed: the image's ``Image`` section is
:class:`ImageBuilderImage`, its ``Iam`` is :class:`ImageBuilderIam`. The image builder has no update
semantics (an image is immutable); fields carry the tree's ``upd=`` where it has one, otherwise none.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from corral.config.model._base import (
    INSTANCE_PROFILE_ARN,
    POLICY_ARN,
    ROLE_ARN,
    SECURITY_GROUP_ID,
    SUBNET_ID,
    Bool,
    ConfigModel,
    F,
    Int,
    JsonStr,
    Str,
    pattern,
    shown,
)
from corral.config.model.common import AdditionalIamPolicy, Tag, TopLevelImds
from corral.config.model.misc import Cookbook, LambdaFunctionsVpcConfig
from corral.config.policies import UpdatePolicy as P


class Volume(ConfigModel):
    size: Int | None = F("Size", None, None)
    encrypted: Bool = F("Encrypted", None, False)
    kms_key_id: Str | None = F("KmsKeyId", None, None)


class ImageBuilderImage(ConfigModel):
    """The image-builder ``Image`` section (``ImageSchema`` of the image-builder tree)."""

    name: Annotated[Str, Field(max_length=99)] | None = F("Name", None, None)
    tags: tuple[Tag, ...] = F("Tags", None, ())
    root_volume: Volume | None = F("RootVolume", None, None)


class ImageBuilderIam(ConfigModel):
    """The image-builder ``Build/Iam`` section (``IamSchema`` of the image-builder tree)."""

    instance_role: ROLE_ARN | None = F("InstanceRole", None, None)
    instance_profile: INSTANCE_PROFILE_ARN | None = F("InstanceProfile", None, None)
    cleanup_lambda_role: ROLE_ARN | None = F("CleanupLambdaRole", None, None)
    additional_iam_policies: tuple[AdditionalIamPolicy, ...] = F("AdditionalIamPolicies", None, ())
    permissions_boundary: POLICY_ARN | None = F("PermissionsBoundary", None, None)

    @model_validator(mode="after")
    def _exclusive(self) -> ImageBuilderIam:
        if sum(1 for v in (self.instance_role, self.instance_profile, self.additional_iam_policies) if v) > 1:
            raise PydanticCustomError(
                "iam_exclusive",
                "InstanceProfile, InstanceRole or AdditionalIamPolicies can not be configured together",
            )
        return self


class Component(ConfigModel):
    # Both optional in the schema, but ParallelCluster cannot build a component without them.
    type: Literal["arn", "script"] = F("Type", None)
    value: Str = F("Value", None)

    @model_validator(mode="after")
    def _value_fits_type(self) -> Component:
        value = self.value
        if self.type == "arn" and not value.startswith("arn"):
            raise PydanticCustomError(
                "component_value",
                "Type arn needs a Value starting with 'arn', got {value!r}",
                {"value": value},
            )
        if self.type == "script" and urlparse(value).scheme not in ("https", "s3"):
            raise PydanticCustomError(
                "component_value",
                "Type script needs an https:// or s3:// URL as Value, got {value}",
                {"value": shown(value)},
            )
        return self


class UpdateOsPackages(ConfigModel):
    enabled: Bool = F("Enabled", None, False)


class LustreClient(ConfigModel):
    enabled: Bool = F("Enabled", None, True)


class NvidiaSoftware(ConfigModel):
    enabled: Bool = F("Enabled", None, False)


class Installation(ConfigModel):
    lustre_client: LustreClient = F("LustreClient", None, default_factory=LustreClient)
    nvidia_software: NvidiaSoftware = F("NvidiaSoftware", None, default_factory=NvidiaSoftware)


class Build(ConfigModel):
    iam: ImageBuilderIam | None = F("Iam", None, None)
    instance_type: Str = F("InstanceType", None)
    components: tuple[Component, ...] = F("Components", None, ())
    parent_image: Annotated[Str, pattern(r"^ami|arn", "an AMI ID (ami-...) or an image ARN (arn:...)")] = F(
        "ParentImage", None
    )
    tags: tuple[Tag, ...] = F("Tags", None, ())
    security_group_ids: tuple[SECURITY_GROUP_ID, ...] = F("SecurityGroupIds", None, ())
    subnet_id: SUBNET_ID | None = F("SubnetId", None, None)
    update_os_packages: UpdateOsPackages = F("UpdateOsPackages", None, default_factory=UpdateOsPackages)
    imds: TopLevelImds = F("Imds", None, default_factory=TopLevelImds)
    installation: Installation = F("Installation", None, default_factory=Installation)


class DistributionConfiguration(ConfigModel):
    #: Optional in the schema, but ParallelCluster cannot build the section without it: required here.
    regions: Annotated[Str, pattern(r"^[a-z0-9-]+(,[a-z0-9-]+)*$", "comma-separated region names")] = F(
        "Regions", None
    )
    launch_permission: JsonStr | None = F("LaunchPermission", None, None)


class ImagebuilderDevSettings(ConfigModel):
    cookbook: Cookbook | None = F("Cookbook", P.IGNORED, None)
    node_package: Str | None = F("NodePackage", P.UNSUPPORTED, None)
    #: Not in the 3.16 schema (AWS Batch support is gone), yet ParallelCluster's own example configs still
    #: carry it; accepted and ignored so those files load.
    aws_batch_cli_package: Str | None = F("AwsBatchCliPackage", None, None)
    disable_pcluster_component: Bool = F("DisablePclusterComponent", None, False)
    distribution_configuration: DistributionConfiguration | None = F("DistributionConfiguration", None, None)
    terminate_instance_on_failure: Bool = F("TerminateInstanceOnFailure", None, True)
    disable_validate_and_test: Bool = F("DisableValidateAndTest", None, True)
    cli_attribute_overrides: Str = F("CliAttributeOverrides", None, "")
    disable_kernel_update: Bool = F("DisableKernelUpdate", None, False)


class ImagebuilderDeploymentSettings(ConfigModel):
    lambda_functions_vpc_config: LambdaFunctionsVpcConfig | None = F(
        "LambdaFunctionsVpcConfig", P.UNSUPPORTED, None
    )


class ImageBuilderConfig(ConfigModel):
    """A whole image-builder config, typed and frozen, with implied defaults filled in."""

    image: ImageBuilderImage = F("Image", None, default_factory=ImageBuilderImage)
    build: Build = F("Build", None)
    dev_settings: ImagebuilderDevSettings = F("DevSettings", None, default_factory=ImagebuilderDevSettings)
    region: Str | None = F("Region", None, None)
    custom_s3_bucket: Str | None = F("CustomS3Bucket", None, None)
    deployment_settings: ImagebuilderDeploymentSettings = F(
        "DeploymentSettings", None, default_factory=ImagebuilderDeploymentSettings
    )
