"""Corral's own operations beside pcluster's (``/corral/v1``), for the web UI: who the token is,
a cluster's applied config, and its Slurm jobs (list, cancel)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from corral.api._clusters import ClusterName, Ctx

router = APIRouter(prefix="/corral/v1")


@router.get("/whoami")
def whoami(request: Request) -> dict[str, Any]:
    token = request.scope["state"]["token"]
    return {"name": token.name, "readOnly": token.read_only}


@router.get("/clusters/{clusterName}/config")
def cluster_config(ctx: Ctx, name: ClusterName) -> dict[str, Any]:
    return {"clusterConfiguration": ctx.service.get(name).config_text}


@router.get("/clusters/{clusterName}/jobs")
def jobs(ctx: Ctx, name: ClusterName) -> dict[str, Any]:
    from corral.service import list_jobs

    return list_jobs(ctx.service, name)


@router.delete("/clusters/{clusterName}/jobs/{jobId}")
def cancel(ctx: Ctx, name: ClusterName, job_id: Annotated[str, Path(alias="jobId")]) -> dict[str, Any]:
    from corral.service import cancel_job

    return cancel_job(ctx.service, name, job_id)


__all__ = ["router"]
