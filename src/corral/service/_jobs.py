"""A cluster's Slurm jobs, read on its head node: ``squeue --json`` (Slurm 22.05 and 24.11 both
have it; 22.05 gives ``job_state`` as a string, 24.11 as a list of flags), and, when the cluster
has accounting, the last day's finished jobs from ``sacct --json`` (``state.current`` a string in
22.05, a list in 24.11); ``scancel``."""

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


def _elapsed(seconds: Any) -> str:
    """sacct's Elapsed: ``[D-]HH:MM:SS``."""
    total = int(_text(seconds) or 0)
    days, rest = divmod(total, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{clock}" if days else clock


def _exit_code(value: Any) -> str:
    """sacct's ExitCode ``RETURN:SIGNAL``: 22.05 gives ``{"return_code": 0, "signal": {"signal_id"}}``,
    24.11 ``{"return_code": {"number"}, "signal": {"id": {"number"}}}``."""
    if not isinstance(value, dict):
        return _text(value)
    signal = value.get("signal") or {}
    number = signal.get("id", signal.get("signal_id")) if isinstance(signal, dict) else signal
    return f"{_text(value.get('return_code')) or 0}:{_text(number) or 0}"


def _tres(items: Any) -> str:
    """sacct's AllocTRES (``cpu=1,mem=1000M,node=1``) from ``tres.allocated``."""
    out = []
    for item in items if isinstance(items, list) else []:
        kind = str(item.get("type", ""))
        name = f"{kind}/{item['name']}" if item.get("name") else kind
        count = _text(item.get("count"))
        out.append(f"{name}={count}M" if kind == "mem" else f"{name}={count}")
    return ",".join(out)


def finished_view(job: dict[str, Any]) -> dict[str, Any]:
    """One job of ``sacct --json`` in the same shape, with accounting's own fields (account,
    elapsed, exit code, allocated TRES) as ``sacct`` prints them."""
    state = job.get("state") or {}
    times = job.get("time") or {}
    return {
        "jobId": job.get("job_id"),
        "name": _text(job.get("name")),
        "user": _text(job.get("user")),
        "account": _text(job.get("account")),
        "partition": _text(job.get("partition")),
        "state": _text(state.get("current") if isinstance(state, dict) else state),
        "reason": _text(state.get("reason") if isinstance(state, dict) else ""),
        "nodes": _text(job.get("nodes")),
        "submitTime": _text(times.get("submission")),
        "elapsed": _elapsed(times.get("elapsed")),
        "exitCode": _exit_code(job.get("exit_code")),
        "tres": _tres((job.get("tres") or {}).get("allocated")),
    }


def _finished(prov: Any, cluster_name: str, shown: set[Any]) -> tuple[list[dict[str, Any]], str]:
    """Jobs of the last day that squeue no longer shows, from the accounting database; or an
    error text (accounting unreachable) instead of failing the whole listing."""
    result = prov.run_on_head(cluster_name, ["sacct", "--json", "-a", "-S", "now-1days"], timeout=30)
    if result.returncode != 0:
        return [], f"sacct failed: {result.stderr.strip()[:300]}"
    try:
        doc = json.loads(result.stdout)
    except ValueError:
        return [], "sacct --json gave no JSON"
    jobs = [finished_view(j) for j in doc.get("jobs", [])]
    return [j for j in jobs if j["jobId"] not in shown], ""


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
        finished, error = _finished(
            service.provider(record.provider), cluster_name, {j["jobId"] for j in jobs}
        )
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
