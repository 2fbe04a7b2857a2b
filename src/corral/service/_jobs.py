"""A cluster's Slurm jobs, read on its head node: ``squeue --json`` (Slurm 22.05 and 24.11 both
have it; 22.05 gives ``job_state`` as a string, 24.11 as a list of flags), and, when the cluster
has accounting, the last day's finished jobs from ``sacct -P`` (its text: the same in both, and
right where 22.05's ``--json`` is not); ``scancel``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from corral.errors import BadRequestError, ConflictError, ProviderError

if TYPE_CHECKING:
    from corral.service._service import ClusterService

RUNNING_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE")


def _text(value: Any) -> str:
    """squeue's values: a string (22.05), a list of flags or a ``{"set", "number"}`` (24.11)."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("number", "")) if value.get("set", True) else ""
    return "" if value is None else str(value)


def job_view(job: dict[str, Any]) -> dict[str, Any]:
    """One job of ``squeue --json`` in the UI's shape."""
    return {
        "jobId": job.get("job_id"),
        "name": _text(job.get("name")),
        "user": _text(job.get("user_name")),
        "partition": _text(job.get("partition")),
        "state": _text(job.get("job_state")),
        "reason": _text(job.get("state_reason")),
        "nodes": _text(job.get("nodes")),
        "submitTime": _text(job.get("submit_time")),
    }


#: sacct's columns the UI shows, the job name last (it may hold the delimiter)
SACCT_FIELDS: tuple[str, ...] = ("JobID", "User", "Account", "Partition", "State", "NodeList", "Submit")
SACCT_FIELDS += ("Elapsed", "ExitCode", "AllocTRES", "JobName")
#: sacct states of jobs that have not ended (squeue's table shows those)
ONGOING = frozenset({"PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED"})


def finished_view(line: str) -> dict[str, Any] | None:
    """One line of ``sacct -P -o SACCT_FIELDS`` in the UI's job shape with accounting's own fields
    (account, elapsed, exit code, allocated TRES) as ``sacct`` prints them; None for a line that
    is not a job's. (``sacct --json`` of Slurm 22.05 reports exit code 0 for a job that exited 3:
    its text is the record.)"""
    values = line.rstrip("\n").split("|", len(SACCT_FIELDS) - 1)
    if len(values) != len(SACCT_FIELDS) or not values[0]:
        return None
    f = dict(zip(SACCT_FIELDS, values, strict=True))
    return {
        "jobId": int(f["JobID"]) if f["JobID"].isdigit() else f["JobID"],
        "name": f["JobName"],
        "user": f["User"],
        "account": f["Account"],
        "partition": f["Partition"],
        "state": f["State"],
        "reason": "",
        "nodes": "" if f["NodeList"] == "None assigned" else f["NodeList"],
        "submitTime": f["Submit"],
        "elapsed": f["Elapsed"],
        "exitCode": f["ExitCode"],
        "tres": f["AllocTRES"],
    }


def _finished(prov: Any, cluster_name: str) -> tuple[list[dict[str, Any]], str]:
    """Jobs of the last day that have ended, from the accounting database (squeue keeps showing a
    job for MinJobAge after it ends; this is the record that stays), newest first; or an error
    text (accounting unreachable) instead of failing the whole listing."""
    argv = ["sacct", "-a", "-X", "-n", "-P", "-S", "now-1days", "-o", ",".join(SACCT_FIELDS)]
    result = prov.run_on_head(cluster_name, argv, timeout=30)
    if result.returncode != 0:
        return [], f"sacct failed: {result.stderr.strip()[:300]}"
    jobs = [job for line in result.stdout.splitlines() if (job := finished_view(line))]
    ended = [j for j in jobs if j["state"].split(" ")[0] not in ONGOING]
    return sorted(ended, key=lambda j: str(j["jobId"]).rjust(20), reverse=True), ""


def _head(service: ClusterService, cluster_name: str) -> Any:
    record = service.get(cluster_name)
    if record.cluster_status not in RUNNING_STATUSES:
        raise ConflictError(
            f"cluster {cluster_name!r} is {record.cluster_status}: its head node runs no jobs"
        )
    return service.provider(record.provider)


def list_jobs(service: ClusterService, cluster_name: str) -> dict[str, Any]:
    """``{"jobs": [...]}``: every job Slurm still shows (pending with its reason, running, just ended)."""
    result = _head(service, cluster_name).run_on_head(cluster_name, ["squeue", "--json"], timeout=30)
    if result.returncode != 0:
        raise ProviderError(f"squeue failed on the head node of {cluster_name!r}: {result.stderr.strip()}")
    try:
        doc = json.loads(result.stdout)
    except ValueError:
        raise ProviderError(f"squeue --json gave no JSON on the head node of {cluster_name!r}") from None
    jobs = [job_view(j) for j in doc.get("jobs", [])]
    out: dict[str, Any] = {"jobs": jobs, "accounting": False}
    record = service.get(cluster_name)
    from corral.service._codec import plan_from_json

    if plan_from_json(record.plan_json).slurm.accounting:
        finished, error = _finished(service.provider(record.provider), cluster_name)
        out.update(accounting=True, finished=finished)
        if error:
            out["accountingError"] = error
    return out


def cancel_job(service: ClusterService, cluster_name: str, job_id: str) -> dict[str, Any]:
    if not job_id.isdigit() or len(job_id) > 12:
        raise BadRequestError(f"Bad Request: job id {job_id[:40]!r} is not a number")
    result = _head(service, cluster_name).run_on_head(cluster_name, ["scancel", job_id], timeout=30)
    if result.returncode != 0:
        raise BadRequestError(f"scancel {job_id}: {result.stderr.strip() or 'failed'}")
    return {"message": f"Job {job_id} cancelled."}


__all__ = ["cancel_job", "job_view", "list_jobs"]
