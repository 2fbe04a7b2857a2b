"""Cluster-wide sections: Image, Monitoring, Iam, DirectoryService, AdditionalPackages, DevSettings,
DeploymentSettings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.config.model._base import (
    AMI_ID,
    POLICY_ARN,
    SECURITY_GROUP_ID,
    SUBNET_ID,
    Bool,
    ConfigModel,
    F,
    Int,
    JsonStr,
    SettingPairs,
    Str,
    int_choice,
    pattern,
)
from corral.config.model.common import Tag
from corral.config.policies import UpdatePolicy as P

Os = Literal["alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rocky8", "rhel9", "rocky9"]
#: CloudWatch Logs retention values ParallelCluster accepts.
RETENTION_DAYS = (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
#: ParallelCluster's bootstrap and instance-info timeouts, seconds.
DEFAULT_NODE_BOOTSTRAP_TIMEOUT = 2100
DEFAULT_COMPUTE_INSTANCE_INFO_TIMEOUT = 90


class Image(ConfigModel):
    """The cluster's top-level ``Image`` (operating system and optional custom AMI)."""

    os: Os = F("Os", P.UNSUPPORTED)
    custom_ami: AMI_ID | None = F("CustomAmi", P.UNSUPPORTED, None)


# ---------------------------------------------------------------- monitoring


class CloudWatchLogs(ConfigModel):
    enabled: Bool = F("Enabled", P.UNSUPPORTED, True)
    retention_in_days: int_choice(*RETENTION_DAYS) = F("RetentionInDays", P.SUPPORTED, 180)  # type: ignore[valid-type]
    deletion_policy: Literal["Delete", "Retain"] = F("DeletionPolicy", P.SUPPORTED, "Retain")


class Rotation(ConfigModel):
    enabled: Bool = F("Enabled", P.UNSUPPORTED, True)


class Logs(ConfigModel):
    cloud_watch: CloudWatchLogs = F("CloudWatch", P.UNSUPPORTED, default_factory=CloudWatchLogs)
    rotation: Rotation = F("Rotation", P.UNSUPPORTED, default_factory=Rotation)


class CloudWatchDashboards(ConfigModel):
    enabled: Bool = F("Enabled", P.SUPPORTED, True)


class Dashboards(ConfigModel):
    cloud_watch: CloudWatchDashboards = F("CloudWatch", P.SUPPORTED, default_factory=CloudWatchDashboards)


class Alarms(ConfigModel):
    enabled: Bool = F("Enabled", P.SUPPORTED, True)


class Monitoring(ConfigModel):
    detailed_monitoring: Bool = F("DetailedMonitoring", P.COMPUTE_FLEET_STOP, False)
    logs: Logs = F("Logs", P.UNSUPPORTED, default_factory=Logs)
    dashboards: Dashboards = F("Dashboards", P.SUPPORTED, default_factory=Dashboards)
    alarms: Alarms = F("Alarms", P.SUPPORTED, default_factory=Alarms)


# ---------------------------------------------------------------- IAM, directory, packages


class Roles(ConfigModel):
    lambda_functions_role: Str | None = F("LambdaFunctionsRole", P.SUPPORTED, None)


class ClusterIam(ConfigModel):
    roles: Roles | None = F("Roles", P.SUPPORTED, None)
    permissions_boundary: POLICY_ARN | None = F("PermissionsBoundary", P.SUPPORTED, None)
    resource_prefix: Str | None = F("ResourcePrefix", P.UNSUPPORTED, None)


_DS = P.COMPUTE_AND_LOGIN_NODES_STOP


class DirectoryService(ConfigModel):
    domain_name: Str = F("DomainName", _DS)
    domain_addr: Str = F("DomainAddr", _DS)
    password_secret_arn: Annotated[
        Str,
        pattern(
            r"^arn:.*:(secretsmanager:.*:.*:secret:|ssm:.*:.*:parameter\/).*$",
            "a Secrets Manager secret ARN or an SSM parameter ARN",
        ),
    ] = F("PasswordSecretArn", _DS)
    domain_read_only_user: Str = F("DomainReadOnlyUser", _DS)
    ldap_tls_ca_cert: Str | None = F("LdapTlsCaCert", _DS, None)
    ldap_tls_req_cert: Literal["never", "allow", "try", "demand", "hard"] = F("LdapTlsReqCert", _DS, "hard")
    ldap_access_filter: Str | None = F("LdapAccessFilter", _DS, None)
    generate_ssh_keys_for_users: Bool = F("GenerateSshKeysForUsers", _DS, True)
    #: ``{setting: value}`` kept in order as ``(("setting", "value"), ...)``.
    additional_sssd_configs: SettingPairs = F("AdditionalSssdConfigs", _DS, ())


class IntelSoftware(ConfigModel):
    intel_hpc_platform: Bool = F("IntelHpcPlatform", P.UNSUPPORTED, False)


class AdditionalPackages(ConfigModel):
    intel_software: IntelSoftware | None = F("IntelSoftware", P.UNSUPPORTED, None)


# ---------------------------------------------------------------- dev and deployment settings


class Cookbook(ConfigModel):
    chef_cookbook: Str | None = F("ChefCookbook", P.UNSUPPORTED, None)
    extra_chef_attributes: JsonStr | None = F("ExtraChefAttributes", P.EXTRA_CHEF_ATTRIBUTES, None)


class AmiSearchFilters(ConfigModel):
    tags: tuple[Tag, ...] = F("Tags", P.UNSUPPORTED, ())
    owner: Str | None = F("Owner", P.UNSUPPORTED, None)
    name_prefix: Str | None = F("NamePrefix", P.UNSUPPORTED, None)


class Timeouts(ConfigModel):
    head_node_bootstrap_timeout: Int = F(
        "HeadNodeBootstrapTimeout", P.UNSUPPORTED, DEFAULT_NODE_BOOTSTRAP_TIMEOUT, ge=1
    )
    compute_node_bootstrap_timeout: Int = F(
        "ComputeNodeBootstrapTimeout", P.SUPPORTED, DEFAULT_NODE_BOOTSTRAP_TIMEOUT, ge=1
    )
    compute_instance_info_timeout: Int = F(
        "ComputeInstanceInfoTimeout", P.SUPPORTED, DEFAULT_COMPUTE_INSTANCE_INFO_TIMEOUT, ge=1
    )


class ClusterDevSettings(ConfigModel):
    cookbook: Cookbook | None = F("Cookbook", P.IGNORED, None)
    node_package: Str | None = F("NodePackage", P.UNSUPPORTED, None)
    cluster_template: Str | None = F("ClusterTemplate", P.SUPPORTED, None)
    ami_search_filters: AmiSearchFilters | None = F("AmiSearchFilters", P.UNSUPPORTED, None)
    instance_types_data: Str | None = F("InstanceTypesData", P.SUPPORTED, None)
    timeouts: Timeouts = F("Timeouts", P.SUPPORTED, default_factory=Timeouts)
    compute_startup_time_metric_enabled: Bool = F("ComputeStartupTimeMetricEnabled", P.SUPPORTED, False)
    efa_interface_type: Str | None = F("EfaInterfaceType", P.QUEUE_UPDATE_STRATEGY, None)


class LambdaFunctionsVpcConfig(ConfigModel):
    security_group_ids: Annotated[tuple[SECURITY_GROUP_ID, ...], Field(min_length=1, max_length=5)] = F(
        "SecurityGroupIds", P.UNSUPPORTED
    )
    subnet_ids: Annotated[tuple[SUBNET_ID, ...], Field(min_length=1, max_length=16)] = F(
        "SubnetIds", P.UNSUPPORTED
    )


class ClusterDeploymentSettings(ConfigModel):
    lambda_functions_vpc_config: LambdaFunctionsVpcConfig | None = F(
        "LambdaFunctionsVpcConfig", P.UNSUPPORTED, None
    )
    disable_sudo_access_for_default_user: Bool | None = F(
        "DisableSudoAccessForDefaultUser", P.COMPUTE_AND_LOGIN_NODES_STOP, None
    )
    default_user_home: Literal["Shared", "Local"] = F("DefaultUserHome", P.UNSUPPORTED, "Shared")
