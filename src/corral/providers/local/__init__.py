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
- ``CORRAL_S3_ENDPOINT_URL`` (with the usual ``AWS_*`` credentials): the S3 endpoint for ``s3://``
  custom actions and ``CustomSlurmSettingsIncludeFile``; scripts are fetched once at create time.
"""

from corral.providers.local.provider import LocalProvider, NodeFailure

__all__ = ["LocalProvider", "NodeFailure"]
