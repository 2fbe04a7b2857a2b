"""Detached background workers: ``create-cluster``, ``update-cluster`` and ``delete-cluster``
without ``--wait`` return at once, like pcluster, and a worker process (its own session, output in
the state dir's log) does the work. The worker is recorded as the cluster's owner, so its death is
visible in describe-cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corral.service import ClusterService, StackEventRecord


def spawn(service: ClusterService, operation: str, cluster_name: str) -> int:
    """Start ``corral _worker OPERATION NAME`` detached and make it the cluster's owner; its pid."""
    from corral.service import worker_files

    state_dir, log = worker_files(service, cluster_name)
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {**os.environ, "CORRAL_STATE_DIR": str(state_dir)}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "corral.cli.main", "_worker", operation, cluster_name],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    service.hand_over(cluster_name, proc.pid)
    return proc.pid


def _log_event(ev: StackEventRecord) -> None:
    reason = f" {ev.reason}" if ev.reason else ""
    print(f"{ev.timestamp.isoformat()} {ev.logical_resource_id} {ev.resource_status}{reason}", flush=True)


def run_worker(operation: str, cluster_name: str) -> None:
    """The worker's body: run the create, update or delete recorded for ``cluster_name``."""
    from corral.service import open_service

    service = open_service()
    print(f"{datetime.now().isoformat()} worker pid {os.getpid()}: {operation} {cluster_name}", flush=True)
    if operation == "create":
        from corral.cli._signals import rollback_on_signals

        with rollback_on_signals("create"):
            record = service.run_create(cluster_name, on_event=_log_event)
        print(f"{datetime.now().isoformat()} done: {record.stack_status}", flush=True)
        sys.exit(0 if record.cluster_status == "CREATE_COMPLETE" else 1)
    if operation == "update":
        record = service.run_update(cluster_name, on_event=_log_event)
        print(f"{datetime.now().isoformat()} done: {record.stack_status}", flush=True)
        sys.exit(0 if record.cluster_status == "UPDATE_COMPLETE" else 1)
    result = service.run_delete(cluster_name, on_event=_log_event)
    print(
        f"{datetime.now().isoformat()} done: {'deleted' if result is None else result.stack_status}",
        flush=True,
    )
    sys.exit(0 if result is None else 1)


__all__ = ["run_worker", "spawn"]
