"""Corral's own operations beside pcluster's (``/corral/v1``), for the web UI: who the token is,
a cluster's applied config, an update's change set explained (pcluster's policy, and live or
fleet stop in Corral), and its Slurm jobs (list, cancel)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from corral.api._clusters import ClusterName, Ctx, UpdateClusterRequest
from corral.api._context import config_file

router = APIRouter(prefix="/corral/v1")


@router.get("/whoami")
def whoami(request: Request) -> dict[str, Any]:
    token = request.scope["state"]["token"]
    return {"name": token.name, "readOnly": token.read_only}


@router.get("/clusters/{clusterName}/config")
def cluster_config(ctx: Ctx, name: ClusterName) -> dict[str, Any]:
    return {"clusterConfiguration": ctx.service.get(name).config_text}


@router.post("/clusters/{clusterName}/changes")
def changes(ctx: Ctx, name: ClusterName, body: UpdateClusterRequest) -> dict[str, Any]:
    """The change set of updating ``name`` to ``body``'s config, each change with its update
    policy and whether Corral applies it live, after a fleet stop, or never (nothing changes)."""
    from corral.service import explain_update

    with config_file(body.clusterConfiguration, name) as path:
        return explain_update(ctx.service, name, path)


@router.get("/clusters/{clusterName}/jobs")
def jobs(ctx: Ctx, name: ClusterName) -> dict[str, Any]:
    from corral.service import list_jobs

    return list_jobs(ctx.service, name)


@router.delete("/clusters/{clusterName}/jobs/{jobId}")
def cancel(ctx: Ctx, name: ClusterName, job_id: Annotated[str, Path(alias="jobId")]) -> dict[str, Any]:
    from corral.service import cancel_job

    return cancel_job(ctx.service, name, job_id)


__all__ = ["router"]
