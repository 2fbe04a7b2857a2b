"""The ``LoginNodes`` section."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from corral.config.model._base import (
    CIDR_OR_PREFIX_LIST,
    SECURITY_GROUP_ID,
    SUBNET_ID,
    ConfigModel,
    F,
    Int,
    Str,
)
from corral.config.model.common import (
    Dcv,
    LoginNodeProxy,
    LoginNodesCustomActions,
    LoginNodesIam,
    LoginNodesImage,
)
from corral.config.model.head_node import check_security_groups_exclusive
from corral.config.policies import UpdatePolicy as P


class LoginNodesNetworking(ConfigModel):
    additional_security_groups: tuple[SECURITY_GROUP_ID, ...] = F(
        "AdditionalSecurityGroups", P.LOGIN_NODES_POOL_STOP, ()
    )
    security_groups: tuple[SECURITY_GROUP_ID, ...] = F("SecurityGroups", P.LOGIN_NODES_POOL_STOP, ())
    #: Exactly one subnet per pool (ParallelCluster allows one subnet per login node pool).
    subnet_ids: Annotated[tuple[SUBNET_ID, ...], Field(min_length=1, max_length=1)] = F(
        "SubnetIds", P.LOGIN_NODES_POOL_STOP
    )
    proxy: LoginNodeProxy | None = F("Proxy", P.LOGIN_NODES_POOL_STOP, None)

    @model_validator(mode="after")
    def _groups(self) -> LoginNodesNetworking:
        check_security_groups_exclusive(self.security_groups, self.additional_security_groups)
        return self


class LoginNodesSsh(ConfigModel):
    allowed_ips: CIDR_OR_PREFIX_LIST | None = F("AllowedIps", P.LOGIN_NODES_POOL_STOP, None)


class LoginNodesPool(ConfigModel):
    name: Str = F("Name", P.LOGIN_NODES_POOL_STOP)
    instance_type: Str = F("InstanceType", P.LOGIN_NODES_POOL_STOP)
    image: LoginNodesImage | None = F("Image", P.LOGIN_NODES_POOL_STOP, None)
    networking: LoginNodesNetworking = F("Networking", P.LOGIN_NODES_POOL_STOP)
    count: Int = F("Count", P.SUPPORTED, ge=0)
    dcv: Dcv | None = F("Dcv", P.UNSUPPORTED, None)
    ssh: LoginNodesSsh | None = F("Ssh", P.LOGIN_NODES_POOL_STOP, None)
    custom_actions: LoginNodesCustomActions = F(
        "CustomActions", P.IGNORED, default_factory=LoginNodesCustomActions
    )
    iam: LoginNodesIam = F("Iam", P.LOGIN_NODES_POOL_STOP, default_factory=LoginNodesIam)
    gracetime_period: Int = F("GracetimePeriod", P.SUPPORTED, 10, ge=3, le=120)


class LoginNodes(ConfigModel):
    pools: tuple[LoginNodesPool, ...] = F("Pools", P.LOGIN_NODES_POOLS_UPDATE_POLICY)
