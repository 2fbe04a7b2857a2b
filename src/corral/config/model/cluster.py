"""The top of a ParallelCluster 3.16 cluster config: :class:`ClusterConfig`."""

from __future__ import annotations

from corral.config.model._base import ConfigModel, F, Str
from corral.config.model.common import Tag, TopLevelImds
from corral.config.model.head_node import HeadNode
from corral.config.model.login_nodes import LoginNodes
from corral.config.model.misc import (
    AdditionalPackages,
    ClusterDeploymentSettings,
    ClusterDevSettings,
    ClusterIam,
    DirectoryService,
    Image,
    Monitoring,
)
from corral.config.model.scheduling import Scheduling
from corral.config.model.storage import SharedStorage
from corral.config.policies import UpdatePolicy as P


class ClusterConfig(ConfigModel):
    """A whole cluster config, typed and frozen, with ParallelCluster's implied defaults filled in."""

    login_nodes: LoginNodes | None = F("LoginNodes", P.LOGIN_NODES_STOP, None)
    image: Image = F("Image", P.UNSUPPORTED)
    head_node: HeadNode = F("HeadNode", P.SUPPORTED)
    scheduling: Scheduling = F("Scheduling", P.UNSUPPORTED)
    shared_storage: tuple[SharedStorage, ...] = F("SharedStorage", P.SHARED_STORAGE_UPDATE_POLICY, ())
    monitoring: Monitoring = F("Monitoring", P.IGNORED, default_factory=Monitoring)
    additional_packages: AdditionalPackages | None = F("AdditionalPackages", P.UNSUPPORTED, None)
    tags: tuple[Tag, ...] = F("Tags", P.SUPPORTED_UNLESS_ADC, ())
    iam: ClusterIam | None = F("Iam", P.IGNORED, None)
    directory_service: DirectoryService | None = F("DirectoryService", P.COMPUTE_AND_LOGIN_NODES_STOP, None)
    region: Str | None = F("Region", P.UNSUPPORTED, None)
    imds: TopLevelImds = F("Imds", P.UNSUPPORTED, default_factory=TopLevelImds)
    custom_s3_bucket: Str | None = F("CustomS3Bucket", P.READ_ONLY_RESOURCE_BUCKET, None)
    additional_resources: Str | None = F("AdditionalResources", P.SUPPORTED, None)
    dev_settings: ClusterDevSettings = F("DevSettings", P.SUPPORTED, default_factory=ClusterDevSettings)
    deployment_settings: ClusterDeploymentSettings = F(
        "DeploymentSettings", P.UNSUPPORTED, default_factory=ClusterDeploymentSettings
    )
