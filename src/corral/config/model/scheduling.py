"""The ``Scheduling`` section: scheduler, scaling strategy and Slurm settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.config.model._base import (
    Bool,
    ConfigModel,
    F,
    Int,
    SettingPairList,
    Str,
    pattern,
)
from corral.config.model.queues import SlurmQueue
from corral.config.policies import UpdatePolicy as P

QueueUpdateStrategy = Literal["DRAIN", "COMPUTE_FLEET_STOP", "TERMINATE"]
ScalingStrategy = Literal["all-or-nothing", "best-effort", "greedy-all-or-nothing"]


class Dns(ConfigModel):
    disable_managed_dns: Bool = F("DisableManagedDns", P.UNSUPPORTED, False)
    hosted_zone_id: Str | None = F("HostedZoneId", P.UNSUPPORTED, None)
    use_ec2_hostnames: Bool = F("UseEc2Hostnames", P.UNSUPPORTED, False)


class Database(ConfigModel):
    uri: Str = F("Uri", P.COMPUTE_FLEET_STOP)
    user_name: Str = F("UserName", P.COMPUTE_FLEET_STOP)
    password_secret_arn: Annotated[
        Str,
        pattern(r"^arn:.*:secret", "a Secrets Manager secret ARN (arn:aws:secretsmanager:...:secret:...)"),
    ] = F("PasswordSecretArn", P.COMPUTE_FLEET_STOP)
    database_name: (
        Annotated[
            Str,
            Field(min_length=1, max_length=64),
            pattern(r"^[0-9a-z_]+$", "lower-case letters, digits, '_'"),
        ]
        | None
    ) = F("DatabaseName", P.SUPPORTED, None)


class ExternalSlurmdbd(ConfigModel):
    host: Str = F("Host", P.SUPPORTED)
    port: Int = F("Port", P.SUPPORTED, 6819)


class SlurmSettings(ConfigModel):
    scaledown_idletime: Int = F("ScaledownIdletime", P.COMPUTE_FLEET_STOP, 10, ge=-1)
    dns: Dns = F("Dns", P.UNSUPPORTED, default_factory=Dns)
    queue_update_strategy: QueueUpdateStrategy = F("QueueUpdateStrategy", P.IGNORED, "COMPUTE_FLEET_STOP")
    enable_memory_based_scheduling: Bool = F("EnableMemoryBasedScheduling", P.COMPUTE_FLEET_STOP, False)
    database: Database | None = F("Database", P.COMPUTE_FLEET_STOP, None)
    #: ``- Key: value`` items flattened, in order, to ``(("Key", "value"), ...)``.
    custom_slurm_settings: SettingPairList = F("CustomSlurmSettings", P.SUPPORTED, ())
    custom_slurm_settings_include_file: Str | None = F("CustomSlurmSettingsIncludeFile", P.SUPPORTED, None)
    munge_key_secret_arn: Str | None = F("MungeKeySecretArn", P.COMPUTE_AND_LOGIN_NODES_STOP, None)
    external_slurmdbd: ExternalSlurmdbd | None = F("ExternalSlurmdbd", P.SUPPORTED, None)


class Scheduling(ConfigModel):
    scheduler: Literal["slurm"] = F("Scheduler", P.UNSUPPORTED)
    scaling_strategy: ScalingStrategy = F("ScalingStrategy", P.SUPPORTED, "all-or-nothing")
    slurm_settings: SlurmSettings = F("SlurmSettings", P.IGNORED, default_factory=SlurmSettings)
    slurm_queues: tuple[SlurmQueue, ...] = F("SlurmQueues", P.RESIZE_UPDATE_STRATEGY_ON_REMOVE)
