"""The service layer: one ``ClusterService`` behind the CLI, the REST API and the web UI.

Public surface:

- ``ClusterService(store, provider_factory)``: create/run_create, update/run_update, delete/run_delete,
  describe, list_clusters,
  instances, delete_instances, describe/update/wait_compute_fleet, stack_events, events_after,
  log_streams, log_events, export_logs,
  ssh_argv, version, hand_over.
- ``open_service(state_dir)``: the service over the state store and the provider registry (what the
  interfaces use; they never build a provider); ``provider_names()``: the registry's names.
- ``dry_run_create`` / ``dry_run_build_image`` / ``check_cluster`` / ``check_image``: validation only,
  no state directory, no provider (``ClusterService.dry_run_create`` adds the provider's part).
- The result types, each with ``to_json()`` in pcluster 3.16's response shape.

Importing this package is cheap (the CLI builds its ``--provider`` choices from ``provider_names``
at start-up): every public name loads from its module on first use. A new public name goes in
``_LAZY`` and in the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral.runtime.lazy import lazy_getattr

if TYPE_CHECKING:
    from corral.service._codec import (
        plan_from_json,
        plan_to_json,
    )
    from corral.service._images import list_official_images
    from corral.service._jobs import cancel_job, list_jobs
    from corral.service._log_access import (
        EventQuery,
        ExportedLogs,
        ExportRequest,
        LogEventList,
        LogStreamList,
    )
    from corral.service._open import (
        error_log_path,
        open_service,
        provider_names,
        worker_files,
    )
    from corral.service._paging import paged_doc
    from corral.service._repair import RepairReport
    from corral.service._service import (
        ClusterService,
        EventCallback,
        ProviderFactory,
        version_info,
    )
    from corral.service._update import UpdateAccepted
    from corral.service._update_view import explain_update
    from corral.service._validate import (
        INVALID_CLUSTER_CONFIG,
        INVALID_IMAGE_CONFIG,
        CheckedConfig,
        check_cluster,
        check_image,
        check_name,
        dry_run_build_image,
        dry_run_create,
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
    from corral.state import StackEventRecord

#: public name -> the module that defines it (imported on first use)
_LAZY = {
    "plan_from_json": "corral.service._codec",
    "plan_to_json": "corral.service._codec",
    "list_official_images": "corral.service._images",
    "EventQuery": "corral.service._log_access",
    "ExportRequest": "corral.service._log_access",
    "ExportedLogs": "corral.service._log_access",
    "LogEventList": "corral.service._log_access",
    "LogStreamList": "corral.service._log_access",
    "ClusterService": "corral.service._service",
    "EventCallback": "corral.service._service",
    "ProviderFactory": "corral.service._service",
    "version_info": "corral.service._service",
    "INVALID_CLUSTER_CONFIG": "corral.service._validate",
    "INVALID_IMAGE_CONFIG": "corral.service._validate",
    "CheckedConfig": "corral.service._validate",
    "check_cluster": "corral.service._validate",
    "check_image": "corral.service._validate",
    "check_name": "corral.service._validate",
    "dry_run_build_image": "corral.service._validate",
    "dry_run_create": "corral.service._validate",
    "DRY_RUN_MESSAGE": "corral.service._views",
    "ClusterDescription": "corral.service._views",
    "ClusterList": "corral.service._views",
    "CreateAccepted": "corral.service._views",
    "DeleteAccepted": "corral.service._views",
    "DryRunResult": "corral.service._views",
    "FleetView": "corral.service._views",
    "InstanceList": "corral.service._views",
    "StackEvents": "corral.service._views",
    "config_errors_json": "corral.service._views",
    "iso": "corral.service._views",
    "stack_event": "corral.service._views",
    "open_service": "corral.service._open",
    "error_log_path": "corral.service._open",
    "worker_files": "corral.service._open",
    "StackEventRecord": "corral.state",
    "provider_names": "corral.service._open",
    "paged_doc": "corral.service._paging",
    "list_jobs": "corral.service._jobs",
    "cancel_job": "corral.service._jobs",
    "UpdateAccepted": "corral.service._update",
    "explain_update": "corral.service._update_view",
    "RepairReport": "corral.service._repair",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


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
    "EventQuery",
    "ExportRequest",
    "ExportedLogs",
    "FleetView",
    "InstanceList",
    "LogEventList",
    "LogStreamList",
    "ProviderFactory",
    "RepairReport",
    "StackEventRecord",
    "StackEvents",
    "UpdateAccepted",
    "cancel_job",
    "check_cluster",
    "check_image",
    "check_name",
    "config_errors_json",
    "dry_run_build_image",
    "dry_run_create",
    "error_log_path",
    "explain_update",
    "iso",
    "list_jobs",
    "list_official_images",
    "open_service",
    "paged_doc",
    "plan_from_json",
    "plan_to_json",
    "provider_names",
    "stack_event",
    "version_info",
    "worker_files",
]
