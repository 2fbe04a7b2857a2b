"""The bodies of the CLI commands: parse nothing (click did), call the service, print the result."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from corral.cli._output import emit, emit_log_events
from corral.errors import BadRequestError, NotFoundError

if TYPE_CHECKING:
    from corral.config.findings import Finding
    from corral.service import ClusterService
    from corral.service._log_access import EventQuery, ExportRequest


def make_service(state_dir: Path | None = None) -> ClusterService:
    """A service over the state directory (``$CORRAL_STATE_DIR`` or the default) and every provider."""
    from corral.service import open_service

    return open_service(state_dir)


def run(name: str, **kwargs: Any) -> None:
    """Run command ``name`` with click's parsed ``kwargs``."""
    if kwargs.pop("debug", False):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    if os.environ.get("CORRAL_API_URL") and name != "version":
        kwargs.pop("region", None)
        from corral.cli import _remote

        _remote.run(name, **kwargs)
        return
    region = kwargs.pop("region", None)
    if region is not None:
        _use_region(name, region, kwargs)
    COMMANDS[name](**kwargs)


#: Verbs that take ``region`` themselves (the image verbs have no cluster record to find it by).
REGION_VERBS = (
    "create_cluster",
    "list_clusters",
    "describe_cluster_instances",
    "configure",
    "build_image",
    "describe_image",
    "list_images",
    "delete_image",
    "list_image_log_streams",
    "get_image_log_events",
    "get_image_stack_events",
    "export_image_logs",
)


def _use_region(name: str, region: str, kwargs: dict[str, Any]) -> None:
    """``-r``, as pcluster: checked against the supported regions, exported as AWS_DEFAULT_REGION
    (AWS calls use it), and a cluster recorded in another region is not found there."""
    from corral.config.regions import check_region
    from corral.errors import NotFoundError

    os.environ["AWS_DEFAULT_REGION"] = check_region(region)
    if name in REGION_VERBS:
        kwargs["region"] = region  # these verbs apply it themselves
        return
    cluster_name = kwargs.get("cluster_name")
    if cluster_name is None:
        return
    record = make_service().store.find(cluster_name)
    if record is None or record.region == region:
        return
    raise NotFoundError(
        f"Cluster '{cluster_name}' does not exist.",
        hint=f"it is in {record.region}: use -r {record.region}, or leave -r out",
    )


def _show_findings(findings: Sequence[Finding]) -> None:
    for finding in findings:
        print(f"{finding.level.name}: {finding.location()}", file=sys.stderr)


@contextmanager
def config_file(arg: str) -> Iterator[str]:
    """A path the service can read (more than once) for ``-c arg``: the file itself, or for ``-``,
    ``/dev/stdin`` and pipes (``-c <(envsubst < tpl.yaml)``) a private copy of what they gave,
    removed afterwards. Paths that cannot be a config get their own message here."""
    from corral.config.source import read_config_source

    source = read_config_source(arg)
    if source.is_file:
        yield arg
        return
    with tempfile.TemporaryDirectory(prefix="corral-config-") as directory:
        name = "stdin.yaml" if source.label == "<stdin>" else f"{Path(source.label).name}.yaml"
        path = Path(directory) / name
        path.write_bytes(source.data)
        yield str(path)


def create_cluster(
    *,
    cluster_name: str,
    cluster_configuration: str,
    suppress_validators: tuple[str, ...],
    validation_failure_level: str,
    dryrun: bool,
    rollback_on_failure: bool,
    provider: str,
    wait: bool,
    output: str,
    query: str | None,
    region: str | None = None,
) -> None:
    from corral.config.findings import Level

    with config_file(cluster_configuration) as path:
        _create(
            cluster_name,
            path,
            region=region,
            suppress=suppress_validators,
            level=Level[validation_failure_level],
            dryrun=dryrun,
            rollback_on_failure=rollback_on_failure,
            provider=provider,
            wait=wait,
            output=output,
            query=query,
        )


def _create(
    cluster_name: str,
    path: str,
    *,
    region: str | None,
    suppress: tuple[str, ...],
    level: Any,
    dryrun: bool,
    rollback_on_failure: bool,
    provider: str,
    wait: bool,
    output: str,
    query: str | None,
) -> None:
    service = make_service()
    if dryrun:
        result = service.dry_run_create(
            path,
            cluster_name=cluster_name,
            provider=provider,
            suppress=suppress,
            failure_level=level,
            region=region,
        )
        _show_findings(result.validation_messages)
        if result.summary:  # what would be deployed; stdout keeps pcluster's dry-run message
            print(result.summary, file=sys.stderr)
        emit(result.to_json(), output=output, query=query)
        return
    accepted = service.create(
        cluster_name,
        path,
        provider=provider,
        rollback_on_failure=rollback_on_failure,
        suppress=suppress,
        failure_level=level,
        region=region,
    )
    _show_findings(accepted.validation_messages)
    if wait:
        from corral.cli._signals import rollback_on_signals

        with rollback_on_signals("create"):
            _create_and_wait(service, cluster_name, provider, output=output, query=query)
        return
    from corral.cli import _worker

    _worker.spawn(service, "create", cluster_name)
    emit(accepted.to_json(), output=output, query=query)


def _create_and_wait(
    service: ClusterService, cluster_name: str, provider: str, *, output: str, query: str | None
) -> None:
    """Run the create here, events live on stderr; print describe-cluster; exit 1 unless complete."""
    from corral.cli._progress import Progress

    with Progress(f"Creating cluster {cluster_name} ({provider})") as progress:
        progress.replay(service.events_after(cluster_name, 0))
        record = service.run_create(cluster_name, on_event=progress.event)
    emit(service.describe(cluster_name).to_json(), output=output, query=query)
    if record.cluster_status != "CREATE_COMPLETE":
        sys.exit(1)


def delete_cluster(*, cluster_name: str, wait: bool, output: str, query: str | None) -> None:
    service = make_service()
    accepted = service.delete(cluster_name)
    if not wait:
        if accepted.record.owner is not None and accepted.record.owner.pid == os.getpid():
            from corral.cli import _worker

            _worker.spawn(service, "delete", cluster_name)
        emit(accepted.to_json(), output=output, query=query)
        return
    from corral.cli._progress import Progress

    with Progress(f"Deleting cluster {cluster_name}") as progress:
        with contextlib.suppress(NotFoundError):  # a concurrent delete may finish first
            progress.replay(service.events_after(cluster_name, 0)[-1:])
        left = service.run_delete(cluster_name, on_event=progress.event)
    if left is None:
        emit({"message": f"Successfully deleted cluster '{cluster_name}'."}, output=output, query=query)
        return
    emit(service.describe(cluster_name).to_json(), output=output, query=query)
    sys.exit(1)


def update_cluster(
    *,
    cluster_name: str,
    cluster_configuration: str,
    suppress_validators: tuple[str, ...],
    validation_failure_level: str,
    dryrun: bool,
    force_update: bool,
    wait: bool,
    output: str,
    query: str | None,
) -> None:
    from corral.config.findings import Level

    service = make_service()
    with config_file(cluster_configuration) as path:  # '-', /dev/stdin and pipes too, as create
        accepted = service.update(
            cluster_name,
            path,
            dry_run=dryrun,
            force=force_update,
            suppress=suppress_validators,
            failure_level=Level[validation_failure_level],
        )
    _show_findings(accepted.validation_messages)
    if output == "table" and not query:
        from corral.cli._output import change_table

        change_table(accepted.rows(), accepted.to_json().get("message", ""))
    if dryrun:
        if output != "table" or query:
            emit(accepted.to_json(), output=output, query=query)
        return
    if wait:
        from corral.cli._progress import Progress

        with Progress(f"Updating cluster {cluster_name}") as progress:
            progress.replay(service.events_after(cluster_name, 0)[-1:])
            record = service.run_update(cluster_name, on_event=progress.event)
        emit(service.describe(cluster_name).to_json(), output=output, query=query)
        if record.cluster_status != "UPDATE_COMPLETE":
            sys.exit(1)
        return
    from corral.cli import _worker

    _worker.spawn(service, "update", cluster_name)
    if output != "table" or query:
        emit(accepted.to_json(), output=output, query=query)


def describe_cluster(*, cluster_name: str, output: str, query: str | None) -> None:
    emit(make_service().describe(cluster_name).to_json(), output=output, query=query)


def list_clusters(
    *,
    cluster_status: tuple[str, ...],
    next_token: str | None,
    output: str,
    query: str | None,
    region: str | None = None,
) -> None:
    from corral.service import paged_doc

    doc = make_service().list_clusters(cluster_status).to_json()
    if region:  # as pcluster, the clusters of one region
        doc["clusters"] = [c for c in doc["clusters"] if c.get("region") == region]
    emit(paged_doc(doc, "clusters", "clusterName", next_token, "clusters"), output=output, query=query)


def describe_cluster_instances(
    *,
    cluster_name: str,
    node_type: str | None,
    queue_name: str | None,
    next_token: str | None,
    output: str,
    query: str | None,
    region: str | None = None,
) -> None:
    from corral.errors import NotFoundError
    from corral.service import paged_doc

    service = make_service()
    try:
        if region and service.get(cluster_name).region != region:
            raise NotFoundError(f"Cluster '{cluster_name}' does not exist.")  # not in that region
        doc: dict[str, Any] = service.instances(
            cluster_name, node_type=node_type, queue_name=queue_name
        ).to_json()
    except NotFoundError:  # pcluster lists the instances tagged with the name: none, not an error
        doc = {"instances": []}
    emit(paged_doc(doc, "instances", "instanceId", next_token, "instances"), output=output, query=query)


def delete_cluster_instances(
    *, cluster_name: str, force: bool, provider: str, output: str, query: str | None
) -> None:
    make_service().delete_instances(cluster_name, force=force, provider=provider)


def describe_compute_fleet(*, cluster_name: str, output: str, query: str | None) -> None:
    emit(make_service().describe_compute_fleet(cluster_name).to_json(), output=output, query=query)


def update_compute_fleet(
    *, cluster_name: str, status: str, wait: bool, output: str, query: str | None
) -> None:
    service = make_service()
    view = service.update_compute_fleet(cluster_name, status)
    if wait:
        from corral.cli._progress import Progress

        with Progress(f"Waiting for the compute fleet of {cluster_name} ({status})") as progress:
            view = service.wait_compute_fleet(
                cluster_name, on_change=lambda v: progress.line("ComputeFleet", v.status.value)
            )
    emit(view.to_json(), output=output, query=query)


def get_cluster_stack_events(
    *, cluster_name: str, next_token: str | None, output: str, query: str | None
) -> None:
    from corral.service import paged_doc

    doc = make_service().stack_events(cluster_name).to_json()
    emit(paged_doc(doc, "events", "eventId", next_token, "events"), output=output, query=query)


def list_cluster_log_streams(
    *,
    cluster_name: str,
    filters: tuple[str, ...],
    next_token: str | None,
    provider: str,
    output: str,
    query: str | None,
) -> None:
    found = make_service().log_streams(
        cluster_name, filters=filters, next_token=next_token, provider=provider
    )
    emit(found.to_json(), output=output, query=query)


def get_cluster_log_events(
    *,
    cluster_name: str,
    log_stream_name: str,
    provider: str,
    output: str,
    query: str | None,
    **request: Unpack[EventQuery],
) -> None:
    found = make_service().log_events(cluster_name, log_stream_name, provider=provider, **request)
    emit_log_events(found.to_json(), output=output, query=query)


def export_cluster_logs(
    *,
    cluster_name: str,
    filters: tuple[str, ...],
    provider: str,
    output: str,
    query: str | None,
    **request: Unpack[ExportRequest],
) -> None:
    exported = make_service().export_logs(cluster_name, filters=filters, provider=provider, **request)
    emit(exported.to_json(), output=output, query=query)


#: ``corral ssh``'s own flags, also recognised after ssh's options (as pcluster's argparse does)
SSH_OWN_FLAGS = {
    "--dryrun": "dryrun",
    "--user": "user",
    "-r": "region",
    "--region": "region",
    "--login-pool": "login_pool",
}


def split_ssh_args(args: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(Corral's own flags found among ``args`` before ``--``, the rest for ssh). click stops at the
    first option it does not know (``-i``), so ``--dryrun true`` after it lands here."""
    own: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in SSH_OWN_FLAGS and i + 1 < len(args):
            own[SSH_OWN_FLAGS[arg]] = args[i + 1]
            i += 2
            continue
        rest.append(arg)
        i += 1
    return own, rest


def ssh(
    *,
    cluster_name: str,
    user: str | None,
    dryrun: bool,
    ssh_args: tuple[str, ...],
    region: str | None = None,
    login_pool: str | None = None,
) -> None:
    """pcluster's ``ssh USER@HEAD ARGS``: run it, or with ``--dryrun true`` print it."""
    own, args = split_ssh_args(ssh_args)
    if "dryrun" in own:
        if own["dryrun"].lower() not in ("true", "false"):
            raise BadRequestError("Bad Request: Wrong type, expected 'boolean' for parameter 'dryrun'")
        dryrun = own["dryrun"].lower() == "true"
    user = own.get("user", user)
    if "region" in own:
        _use_region("ssh", own["region"], {"cluster_name": cluster_name})
    login_pool = own.get("login_pool", login_pool)
    argv = make_service().ssh_argv(cluster_name, args, user=user, login_pool=login_pool)
    if dryrun:
        emit({"command": shlex.join(argv)})
        return
    sys.stdout.flush()
    os.execvp(argv[0], argv)


def dcv_connect(
    *, cluster_name: str, key_path: str | None, login_node_ip: str | None, show_url: bool
) -> None:
    """pcluster's ``dcv-connect``: a one-time session URL (valid 30 s), opened in the browser, or
    printed with ``--show-url`` (or when no browser can be opened)."""
    url = make_service().dcv_url(cluster_name, login_node_ip=login_node_ip, key_path=key_path)
    if not show_url:
        import webbrowser

        if webbrowser.open(url):
            return
    print(f"Use this one-time URL in your browser within 30 seconds:\n{url}")


def build_image(
    *,
    image_id: str,
    image_configuration: str,
    suppress_validators: tuple[str, ...],
    validation_failure_level: str,
    dryrun: bool,
    rollback_on_failure: bool,
    provider: str,
    output: str,
    query: str | None,
    wait: bool = False,
    region: str | None = None,
) -> None:
    from corral.config.findings import Level
    from corral.service import dry_run_build_image

    level = Level[validation_failure_level]
    with config_file(image_configuration) as path:
        if dryrun:
            result = dry_run_build_image(
                path, image_id=image_id, suppress=suppress_validators, failure_level=level
            )
            _show_findings(result.validation_messages)
            emit(result.to_json(), output=output, query=query)
            return
        doc = make_service().build_image(
            path,
            image_id=image_id,
            suppress=suppress_validators,
            failure_level=level,
            rollback_on_failure=rollback_on_failure,
            provider=provider,
            region=region,
        )
    if wait:
        _wait_for_image(image_id, provider, output=output, query=query, region=region)
        return
    emit(doc, output=output, query=query)


def _wait_for_image(
    image_id: str, provider: str, *, output: str, query: str | None, region: str | None = None
) -> None:
    """``build-image --wait``: poll until the build ends; describe-image's answer, exit 1 unless
    BUILD_COMPLETE."""
    import time

    service = make_service()
    print(f"corral: building image {image_id}...", file=sys.stderr, flush=True)
    while (doc := service.describe_image(image_id, provider=provider, region=region))[
        "imageBuildStatus"
    ] == "BUILD_IN_PROGRESS":
        time.sleep(1.0)
    emit(doc, output=output, query=query)
    if doc["imageBuildStatus"] != "BUILD_COMPLETE":
        print(
            f"corral: {doc.get('cloudformationStackStatusReason', doc['imageBuildStatus'])}", file=sys.stderr
        )
        sys.exit(1)


def describe_image(
    *, image_id: str, provider: str, output: str, query: str | None, region: str | None = None
) -> None:
    emit(
        make_service().describe_image(image_id, provider=provider, region=region), output=output, query=query
    )


def list_images(
    *,
    image_status: str,
    next_token: str | None,
    provider: str,
    output: str,
    query: str | None,
    region: str | None = None,
) -> None:
    doc = make_service().list_images(image_status, next_token=next_token, provider=provider, region=region)
    emit(doc, output=output, query=query)


def delete_image(
    *, image_id: str, force: bool, provider: str, output: str, query: str | None, region: str | None = None
) -> None:
    deleted = make_service().delete_image(image_id, force=force, provider=provider, region=region)
    emit(deleted, output=output, query=query)


def list_image_log_streams(
    *,
    image_id: str,
    next_token: str | None,
    provider: str,
    output: str,
    query: str | None,
    region: str | None = None,
) -> None:
    found = make_service().list_image_log_streams(
        image_id, next_token=next_token, provider=provider, region=region
    )
    emit(found.to_json(), output=output, query=query)


def get_image_log_events(
    *,
    image_id: str,
    log_stream_name: str,
    provider: str,
    output: str,
    query: str | None,
    region: str | None = None,
    **request: Unpack[EventQuery],
) -> None:
    found = make_service().get_image_log_events(
        image_id, log_stream_name, provider=provider, region=region, **request
    )
    emit_log_events(found.to_json(), output=output, query=query)


def get_image_stack_events(
    *,
    image_id: str,
    next_token: str | None,
    provider: str,
    output: str,
    query: str | None,
    region: str | None = None,
) -> None:
    from corral.service import paged_doc

    doc = make_service().get_image_stack_events(image_id, provider=provider, region=region)
    emit(paged_doc(doc, "events", "eventId", next_token, "events"), output=output, query=query)


def export_image_logs(
    *,
    image_id: str,
    provider: str,
    output: str,
    query: str | None,
    region: str | None = None,
    **request: Unpack[ExportRequest],
) -> None:
    exported = make_service().export_image_logs(image_id, provider=provider, region=region, **request)
    emit(exported.to_json(), output=output, query=query)


def list_official_images(
    *, os_name: str | None, architecture: str | None, output: str, query: str | None
) -> None:
    from corral.service import list_official_images as official

    emit(official(os=os_name, architecture=architecture), output=output, query=query)


def repair_state(*, output: str, query: str | None) -> None:
    report = make_service().repair_state()
    for line in report.skipped:
        print(f"corral: not rebuilt: {line}", file=sys.stderr)
    emit(report.to_json(), output=output, query=query)


def list_databases(*, provider: str, output: str, query: str | None) -> None:
    emit(make_service().databases(provider), output=output, query=query)


def delete_database(*, uri: str, force: bool, provider: str, output: str, query: str | None) -> None:
    emit(make_service().delete_database(uri, provider=provider, force=force), output=output, query=query)


def restore_clusters(*, output: str, query: str | None) -> None:
    emit({"restoredClusters": make_service().restore_all()}, output=output, query=query)


def configure(*, config: str, provider: str, region: str | None = None) -> None:
    """pcluster's wizard (``_configure``); the provider may list the account's key pairs and
    subnets once the Region is chosen (aws), or not (offline)."""
    from corral.cli._configure import offline_choices, run_configure

    chosen = make_service().provider(provider)
    run_configure(config, region=region, choices=offline_choices(), account=chosen.configure_choices)


def version() -> None:
    from corral.service import version_info

    emit(version_info())


COMMANDS: dict[str, Callable[..., None]] = {
    "create_cluster": create_cluster,
    "delete_cluster": delete_cluster,
    "describe_cluster": describe_cluster,
    "update_cluster": update_cluster,
    "list_clusters": list_clusters,
    "describe_cluster_instances": describe_cluster_instances,
    "delete_cluster_instances": delete_cluster_instances,
    "describe_compute_fleet": describe_compute_fleet,
    "update_compute_fleet": update_compute_fleet,
    "get_cluster_stack_events": get_cluster_stack_events,
    "list_cluster_log_streams": list_cluster_log_streams,
    "get_cluster_log_events": get_cluster_log_events,
    "export_cluster_logs": export_cluster_logs,
    "ssh": ssh,
    "dcv_connect": dcv_connect,
    "build_image": build_image,
    "describe_image": describe_image,
    "list_images": list_images,
    "delete_image": delete_image,
    "list_image_log_streams": list_image_log_streams,
    "get_image_log_events": get_image_log_events,
    "get_image_stack_events": get_image_stack_events,
    "export_image_logs": export_image_logs,
    "list_official_images": list_official_images,
    "repair_state": repair_state,
    "restore_clusters": restore_clusters,
    "configure": configure,
    "version": version,
    "list_databases": list_databases,
    "delete_database": delete_database,
}

__all__ = ["COMMANDS", "make_service", "run"]
