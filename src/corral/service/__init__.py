"""The service layer: one ``ClusterService`` behind the CLI, the REST API and the web UI.

Public surface:

- ``ClusterService(store, provider_factory)``: create/run_create, delete/run_delete, describe, list_clusters,
  instances, delete_instances, describe/update/wait_compute_fleet, stack_events, events_after,
  log_streams, log_events, export_logs,
  ssh_argv, version, hand_over.
- ``dry_run_create`` / ``dry_run_build_image`` / ``check_cluster`` / ``check_image``: validation only,
  no state directory, no provider.
- The result types, each with ``to_json()`` in pcluster 3.16's response shape.
"""

from corral.service._codec import plan_from_json, plan_to_json
from corral.service._log_access import ExportedLogs, LogEventList, LogStreamList
from corral.service._service import ClusterService, EventCallback, ProviderFactory, version_info
from corral.service._validate import (
    INVALID_CLUSTER_CONFIG,
    INVALID_IMAGE_CONFIG,
    CheckedConfig,
    check_cluster,
    check_image,
    check_name,
    dry_run_build_image,
    dry_run_create,
    validation_target,
)
from corral.service._views import (
    DRY_RUN_MESSAGE,
    ClusterDescription,
    ClusterList,
    CreateAccepted,
    DeleteAccepted,
    DryRunResult,
    FleetView,
    InstanceList,
    StackEvents,
    config_errors_json,
    iso,
    stack_event,
)

__all__ = [
    "DRY_RUN_MESSAGE",
    "INVALID_CLUSTER_CONFIG",
    "INVALID_IMAGE_CONFIG",
    "CheckedConfig",
    "ClusterDescription",
    "ClusterList",
    "ClusterService",
    "CreateAccepted",
    "DeleteAccepted",
    "DryRunResult",
    "EventCallback",
    "ExportedLogs",
    "FleetView",
    "InstanceList",
    "LogEventList",
    "LogStreamList",
    "ProviderFactory",
    "StackEvents",
    "check_cluster",
    "check_image",
    "check_name",
    "config_errors_json",
    "dry_run_build_image",
    "dry_run_create",
    "iso",
    "plan_from_json",
    "plan_to_json",
    "stack_event",
    "validation_target",
    "version_info",
]
