"""The local provider: clusters as Linux namespaces on this machine.

``LocalProvider(state_dir)`` implements ``corral.providers.base.Provider``. Each cluster has a head
network namespace ``corral-<cluster>-head`` (with the bridge, munged's socket on the shared
filesystem, slurmctld) and one namespace set per running compute node, ``corral-<cluster>-<node>``.

Environment knobs (read when a cluster is created):

- ``CORRAL_LOCAL_SCALEDOWN_SECONDS``: idle seconds before a dynamic node is powered down, instead of
  ``ScaledownIdletime`` minutes (tests use a few seconds).
- ``CORRAL_LOCAL_PROTECTED_FAILURE_COUNT``: consecutive bootstrap failures of a queue's nodes before
  the reconciler puts the queue in protected mode (partition INACTIVE), instead of 10. The protected
  queues are listed in ``<cluster>/state/protected.json``.
- ``CORRAL_LOCAL_RECONCILE_INTERVAL``: seconds between reconciler passes (2; ParallelCluster's 60 s
  is the reconciler's own default).
- ``CORRAL_LOCAL_WATCHDOG_TIMEOUT``: seconds of stale head heartbeat before a compute node shuts
  itself down (600).
- ``CORRAL_HEARTBEAT_TIMEOUT_S``: heartbeat age at which the ResumeProgram refuses to launch (300).
- ``CORRAL_LOCAL_CAPACITY``: the machine's capacity (``c5.xlarge=2,total=10,memory_mib=65536``);
  launches beyond it fail with ``InsufficientInstanceCapacity``.
- ``CORRAL_LOCAL_INSUFFICIENT_CAPACITY_TIMEOUT``: seconds a compute resource that hit a capacity
  error is skipped (600).
- ``CORRAL_LOCAL_DATASYNC_INTERVAL``: seconds between data repository sync passes (2).
- ``AWS_ENDPOINT_URL`` (``CORRAL_S3_ENDPOINT_URL``, the old name, as a fallback) with the usual
  ``AWS_*`` credentials: the S3 endpoint for every ``s3://`` URL (custom actions,
  ``CustomSlurmSettingsIncludeFile``, data repositories, log export); unset means AWS itself.
"""

from corral.providers.local.provider import LocalProvider, NodeFailure

__all__ = ["LocalProvider", "NodeFailure"]
