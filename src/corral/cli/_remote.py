"""The CLI as a client of a Corral server: with ``--endpoint URL`` (or ``$CORRAL_API_URL``) and a
token in ``$CORRAL_API_TOKEN``, every verb is the matching ``/v3`` request, and the answer is printed
exactly as the local verb prints it (pcluster's JSON; errors as ``{"message": ...}``, exit 1)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from corral.cli._output import emit, emit_log_events
from corral.errors import BadRequestError

IN_PROGRESS = ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "UPDATE_IN_PROGRESS")


class Remote:
    """One server, one token."""

    def __init__(self, endpoint: str, token: str | None) -> None:
        import httpx

        if not endpoint.startswith(("http://", "https://")):
            raise BadRequestError(
                f"--endpoint {endpoint!r} is not an http(s) URL", hint="e.g. --endpoint http://127.0.0.1:8080"
            )
        if not token:
            raise BadRequestError(
                "talking to a Corral server needs an API token",
                hint="export CORRAL_API_TOKEN=<a token from `corral api token create` on the server>",
            )
        verify: Any = os.environ.get("CORRAL_API_CA_BUNDLE") or True
        self.client = httpx.Client(
            base_url=endpoint.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=float(os.environ.get("CORRAL_API_TIMEOUT", "120")),
            verify=verify,
        )

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        import httpx

        try:
            answer = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BadRequestError(
                f"cannot reach the Corral server at {self.client.base_url}: {exc}",
                hint="check --endpoint / CORRAL_API_URL and that `corral api serve` runs there",
            ) from None
        if answer.status_code not in ok:
            fail(answer)
        return answer.json() if answer.content else None


def fail(answer: Any) -> NoReturn:
    """The server's error body on stdout (as the local CLI prints it), its message on stderr."""
    try:
        body = answer.json()
    except ValueError:
        body = {"message": f"HTTP {answer.status_code}: {answer.text[:200]}"}
    print(json.dumps(body, indent=2))
    for err in body.get("configurationValidationErrors", []) if isinstance(body, dict) else []:
        print(f"{err.get('level', 'ERROR')}: {err.get('message', '')}", file=sys.stderr)
    for err in body.get("updateValidationErrors", []) if isinstance(body, dict) else []:
        print(f"UPDATE: {err.get('parameter', '')}: {err.get('message', '')}", file=sys.stderr)
    print(f"corral: error: {body.get('message', '') if isinstance(body, dict) else body}", file=sys.stderr)
    sys.exit(1)


def _params(**values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or value == ():
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def _wait(remote: Remote, name: str, *, gone_ok: bool = False, timeout: float = 3600) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = remote.client.get(f"/v3/clusters/{name}")
        if answer.status_code == 404 and gone_ok:
            return None
        if answer.status_code != 200:
            fail(answer)
        doc = answer.json()
        if doc["clusterStatus"] not in IN_PROGRESS or time.monotonic() > deadline:
            return doc
        time.sleep(2)


def _create_params(kw: dict[str, Any]) -> dict[str, Any]:
    """The query parameters of ``create-cluster`` and ``build-image``: validation, dry run, rollback."""
    return _params(
        suppressValidators=list(kw["suppress_validators"]) or None,
        validationFailureLevel=kw["validation_failure_level"],
        dryrun=kw["dryrun"],
        rollbackOnFailure=kw["rollback_on_failure"],
    )


def create_cluster(remote: Remote, **kw: Any) -> None:
    text = Path(kw["cluster_configuration"]).read_text(encoding="utf-8")
    params = _create_params(kw)
    body = {"clusterName": kw["cluster_name"], "clusterConfiguration": text}
    doc = remote.call("POST", "/v3/clusters", ok=(202, 412), params=params, json=body)
    if kw["wait"] and not kw["dryrun"]:
        doc = _wait(remote, kw["cluster_name"])
        emit(doc, output=kw["output"], query=kw["query"])
        if doc["clusterStatus"] != "CREATE_COMPLETE":
            sys.exit(1)
        return
    emit(doc, output=kw["output"], query=kw["query"])


def update_cluster(remote: Remote, **kw: Any) -> None:
    text = Path(kw["cluster_configuration"]).read_text(encoding="utf-8")
    params = _params(
        suppressValidators=list(kw["suppress_validators"]) or None,
        validationFailureLevel=kw["validation_failure_level"],
        dryrun=kw["dryrun"],
        forceUpdate=kw["force_update"],
    )
    name = kw["cluster_name"]
    doc = remote.call(
        "PUT", f"/v3/clusters/{name}", ok=(202, 412), params=params, json={"clusterConfiguration": text}
    )
    if kw["wait"] and not kw["dryrun"]:
        doc = _wait(remote, name)
        emit(doc, output=kw["output"], query=kw["query"])
        if doc["clusterStatus"] != "UPDATE_COMPLETE":
            sys.exit(1)
        return
    emit(doc, output=kw["output"], query=kw["query"])


def delete_cluster(remote: Remote, **kw: Any) -> None:
    name = kw["cluster_name"]
    doc = remote.call("DELETE", f"/v3/clusters/{name}", ok=(202,))
    if kw["wait"]:
        left = _wait(remote, name, gone_ok=True)
        if left is not None:
            emit(left, output=kw["output"], query=kw["query"])
            sys.exit(1)
        doc = {"message": f"Successfully deleted cluster '{name}'."}
    emit(doc, output=kw["output"], query=kw["query"])


def _get(path: str, **names: str) -> Callable[..., None]:
    """A read verb: GET ``path`` (formatted with the verb's arguments) with query parameters taken
    from the verb's arguments (``names``: parameter -> argument)."""

    def verb(remote: Remote, **kw: Any) -> None:
        params = _params(**{param: kw.get(arg) for param, arg in names.items()})
        doc = remote.call("GET", path.format(**kw), params=params)
        emit(doc, output=kw["output"], query=kw["query"])

    return verb


def _log_events(path: str) -> Callable[..., None]:
    """A ``get-*-log-events`` verb: GET ``path`` (formatted with the verb's arguments, the stream's
    name quoted: an image's has a slash) with the interval and page as query parameters."""
    from urllib.parse import quote

    def verb(remote: Remote, **kw: Any) -> None:
        params = _params(
            startTime=kw["start_time"],
            endTime=kw["end_time"],
            startFromHead=kw["start_from_head"],
            limit=kw["limit"],
            nextToken=kw["next_token"],
        )
        stream = quote(kw["log_stream_name"], safe="")
        doc = remote.call("GET", path.format(**{**kw, "log_stream_name": stream}), params=params)
        emit_log_events(doc, output=kw["output"], query=kw["query"])

    return verb


def delete_image(remote: Remote, **kw: Any) -> None:
    path = f"/v3/images/custom/{kw['image_id']}"
    doc = remote.call("DELETE", path, ok=(202,), params=_params(force=kw["force"]))
    emit(doc, output=kw["output"], query=kw["query"])


def update_compute_fleet(remote: Remote, **kw: Any) -> None:
    path = f"/v3/clusters/{kw['cluster_name']}/computefleet"
    remote.call("PATCH", path, ok=(200, 204), json={"status": kw["status"]})
    doc = remote.call("GET", path)
    while kw["wait"] and doc["status"] not in ("RUNNING", "STOPPED", "PROTECTED"):
        time.sleep(1)
        doc = remote.call("GET", path)
    emit(doc, output=kw["output"], query=kw["query"])


def delete_cluster_instances(remote: Remote, **kw: Any) -> None:
    path = f"/v3/clusters/{kw['cluster_name']}/instances"
    remote.call("DELETE", path, ok=(202,), params=_params(force=kw["force"]))


def build_image(remote: Remote, **kw: Any) -> None:
    text = Path(kw["image_configuration"]).read_text(encoding="utf-8")
    params = _create_params(kw)
    body = {"imageId": kw["image_id"], "imageConfiguration": text}
    doc = remote.call("POST", "/v3/images/custom", ok=(202, 412), params=params, json=body)
    path = f"/v3/images/custom/{kw['image_id']}"
    while (
        kw.get("wait")
        and not kw["dryrun"]
        and doc.get("image", doc).get("imageBuildStatus") == "BUILD_IN_PROGRESS"
    ):
        time.sleep(1)
        doc = remote.call("GET", path)
    emit(doc, output=kw["output"], query=kw["query"])


def local_only(verb: str) -> Callable[..., None]:
    def refuse(remote: Remote, **kw: Any) -> None:
        raise BadRequestError(
            f"{verb} is not available through a Corral server (the API has no such operation)",
            hint="run it on the server's machine, without --endpoint / CORRAL_API_URL",
        )

    return refuse


COMMANDS: dict[str, Callable[..., None]] = {
    "create_cluster": create_cluster,
    "delete_cluster": delete_cluster,
    "update_cluster": update_cluster,
    "describe_cluster": _get("/v3/clusters/{cluster_name}"),
    "list_clusters": _get("/v3/clusters", clusterStatus="cluster_status", nextToken="next_token"),
    "describe_cluster_instances": _get(
        "/v3/clusters/{cluster_name}/instances",
        nodeType="node_type",
        queueName="queue_name",
        nextToken="next_token",
    ),
    "delete_cluster_instances": delete_cluster_instances,
    "describe_compute_fleet": _get("/v3/clusters/{cluster_name}/computefleet"),
    "update_compute_fleet": update_compute_fleet,
    "get_cluster_stack_events": _get("/v3/clusters/{cluster_name}/stackevents", nextToken="next_token"),
    "list_cluster_log_streams": _get(
        "/v3/clusters/{cluster_name}/logstreams", filters="filters", nextToken="next_token"
    ),
    "get_cluster_log_events": _log_events("/v3/clusters/{cluster_name}/logstreams/{log_stream_name}"),
    "build_image": build_image,
    "describe_image": _get("/v3/images/custom/{image_id}"),
    "list_images": _get("/v3/images/custom", imageStatus="image_status", nextToken="next_token"),
    "delete_image": delete_image,
    "list_image_log_streams": _get("/v3/images/custom/{image_id}/logstreams", nextToken="next_token"),
    "get_image_log_events": _log_events("/v3/images/custom/{image_id}/logstreams/{log_stream_name}"),
    "get_image_stack_events": _get("/v3/images/custom/{image_id}/stackevents", nextToken="next_token"),
    "export_image_logs": local_only("export-image-logs"),
    "list_official_images": _get("/v3/images/official", os="os_name", architecture="architecture"),
    "repair_state": local_only("repair-state"),
    "list_databases": local_only("list-databases"),
    "delete_database": local_only("delete-database"),
    "export_cluster_logs": local_only("export-cluster-logs"),
    "ssh": local_only("ssh"),
    "dcv_connect": local_only("dcv-connect"),
}


def endpoint() -> str | None:
    return os.environ.get("CORRAL_API_URL") or None


def run(name: str, **kwargs: Any) -> None:
    """Run verb ``name`` against the server at ``$CORRAL_API_URL``."""
    kwargs.pop("provider", None)  # the server decides where clusters run
    remote = Remote(endpoint() or "", os.environ.get("CORRAL_API_TOKEN"))
    COMMANDS[name](remote, **kwargs)


__all__ = ["COMMANDS", "endpoint", "run"]
