"""The local provider's settings record: every knob a local cluster takes from the environment,
parsed once, when the cluster is created, into a frozen ``LocalSettings`` that the cluster's
descriptor keeps. Everything after the create (slurm.conf on restore and update, the supervisor,
the reconciler, node watchdogs, the data-repository sync) uses what the create read; nothing
below reads these variables again.

A malformed value fails the create before anything exists, naming the variable (``ProviderError``).
``CORRAL_LOCAL_NODE_ROOT`` (``_imageroot``) and ``CORRAL_LOCAL_CAPACITY`` (``_capacity``, a
machine-wide limit recorded with its own parser) are read at create by their own modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.errors import ProviderError
from corral.node.s3sync import DEFAULT_INTERVAL_S as DEFAULT_DATASYNC_INTERVAL_S
from corral.runtime import settings

#: idle seconds before Slurm powers a dynamic node down (SuspendTime; default: the plan's)
SCALEDOWN_ENV = "CORRAL_LOCAL_SCALEDOWN_SECONDS"
#: seconds between two passes of the FSx data-repository sync
DATASYNC_INTERVAL_ENV = "CORRAL_LOCAL_DATASYNC_INTERVAL"
#: seconds between two reconciler passes
RECONCILE_INTERVAL_ENV = "CORRAL_LOCAL_RECONCILE_INTERVAL"
#: seconds of stale heartbeat after which a compute node's watchdog shuts the node down
WATCHDOG_TIMEOUT_ENV = "CORRAL_LOCAL_WATCHDOG_TIMEOUT"
#: bootstrap failures that put a queue in protected mode (default: the reconciler's)
PROTECTED_FAILURE_COUNT_ENV = "CORRAL_LOCAL_PROTECTED_FAILURE_COUNT"
#: seconds a compute resource without capacity stays out (pcluster's insufficient_capacity_timeout;
#: 0 or less turns the fail-over off)
INSUFFICIENT_CAPACITY_TIMEOUT_ENV = "CORRAL_LOCAL_INSUFFICIENT_CAPACITY_TIMEOUT"
#: handed to the ResumeProgram as it is (``corral.runtime.heartbeat`` reads it leniently)
HEARTBEAT_TIMEOUT_ENV = "CORRAL_HEARTBEAT_TIMEOUT_S"
#: size cap of an EFS file system's volume, in GiB
EFS_CAP_ENV = "CORRAL_LOCAL_EFS_CAP_GIB"

DEFAULT_RECONCILE_INTERVAL_S = 2.0
DEFAULT_WATCHDOG_TIMEOUT_S = 600.0
DEFAULT_EFS_CAP_GIB = 512


@dataclass(frozen=True)
class LocalSettings:
    """What the environment said at create (None: not set, the plan's or the program's default)."""

    scaledown_s: int | None = None
    datasync_interval_s: float = DEFAULT_DATASYNC_INTERVAL_S
    reconcile_interval_s: float = DEFAULT_RECONCILE_INTERVAL_S
    watchdog_timeout_s: float = DEFAULT_WATCHDOG_TIMEOUT_S
    protected_failure_count: int | None = None
    #: the value as given (checked to be a number), passed on to the reconciler's flag
    insufficient_capacity_timeout: str | None = None
    heartbeat_timeout: str | None = None
    efs_cap_gib: int = DEFAULT_EFS_CAP_GIB

    @classmethod
    def from_env(cls, environ: settings.Environ | None = None) -> LocalSettings:
        """Parse every knob (``environ``: default ``os.environ``); a malformed one raises
        ``ProviderError`` naming it."""
        error = ProviderError
        ice = settings.number(INSUFFICIENT_CAPACITY_TIMEOUT_ENV, environ=environ, error=error)
        cap = settings.integer(EFS_CAP_ENV, environ=environ, error=error)
        return cls(
            scaledown_s=settings.integer(SCALEDOWN_ENV, environ=environ, error=error),
            datasync_interval_s=settings.seconds(
                DATASYNC_INTERVAL_ENV, DEFAULT_DATASYNC_INTERVAL_S, environ=environ, error=error
            ),
            reconcile_interval_s=settings.seconds(
                RECONCILE_INTERVAL_ENV, DEFAULT_RECONCILE_INTERVAL_S, environ=environ, error=error
            ),
            watchdog_timeout_s=settings.seconds(
                WATCHDOG_TIMEOUT_ENV, DEFAULT_WATCHDOG_TIMEOUT_S, environ=environ, error=error
            ),
            protected_failure_count=settings.count(PROTECTED_FAILURE_COUNT_ENV, environ=environ, error=error),
            insufficient_capacity_timeout=(
                None if ice is None else settings.raw(INSUFFICIENT_CAPACITY_TIMEOUT_ENV, environ)
            ),
            heartbeat_timeout=settings.raw(HEARTBEAT_TIMEOUT_ENV, environ) or None,
            efs_cap_gib=DEFAULT_EFS_CAP_GIB if cap is None else cap,
        )


__all__ = [
    "DATASYNC_INTERVAL_ENV",
    "DEFAULT_EFS_CAP_GIB",
    "DEFAULT_RECONCILE_INTERVAL_S",
    "DEFAULT_WATCHDOG_TIMEOUT_S",
    "EFS_CAP_ENV",
    "HEARTBEAT_TIMEOUT_ENV",
    "INSUFFICIENT_CAPACITY_TIMEOUT_ENV",
    "PROTECTED_FAILURE_COUNT_ENV",
    "RECONCILE_INTERVAL_ENV",
    "SCALEDOWN_ENV",
    "WATCHDOG_TIMEOUT_ENV",
    "LocalSettings",
]
