"""``corral``: the command line, with pcluster 3.16's verbs, flags and JSON output.

This module is imported on every run, so it imports only click and Corral's version: each command
imports what it needs when it runs (``corral --version`` must start in well under 150 ms).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from corral import PCLUSTER_COMPAT_VERSION, __version__
from corral.service import provider_names

#: the ``--provider`` choices: the provider registry's names, the default first
PROVIDER_NAMES = provider_names()

# pcluster takes several values after one flag (``--suppress-validators type:A type:B``); click
# wants the flag repeated, so ``main`` rewrites argv for these before click parses it.
MULTI_VALUE_OPTIONS = frozenset({"--suppress-validators", "--cluster-status", "--filters"})

VALIDATION_LEVELS = ("INFO", "WARNING", "ERROR")
CLUSTER_STATUSES = (
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "CREATE_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
)
NODE_TYPES = ("HeadNode", "ComputeNode", "LoginNode")
FLEET_REQUESTS = ("START_REQUESTED", "STOP_REQUESTED", "ENABLED", "DISABLED")


class WrongType(click.BadParameter):
    """A flag value of the wrong type: pcluster answers ``Bad Request: Wrong type, expected 'boolean'
    for parameter 'dryrun'`` as JSON on stdout (exit 1), not a usage error."""

    def __init__(self, expected: str, param: click.Parameter | None, ctx: click.Context | None) -> None:
        super().__init__(f"expected {expected!r}", ctx=ctx, param=param)
        self.expected = expected

    def pcluster_message(self) -> str:
        return f"Bad Request: Wrong type, expected {self.expected!r} for parameter {flag_name(self.param)!r}"


def flag_name(param: click.Parameter | None) -> str:
    """pcluster's name of a parameter: its long flag without dashes (``start-from-head``)."""
    if param is None:
        return ""
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs[0] if longs else param.opts[0]).lstrip("-") if param.opts else str(param.name)


class PclusterBool(click.ParamType):
    """pcluster's boolean flag values: ``true``/``false`` (any case of those two words)."""

    name = "true|false"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise WrongType("boolean", param, ctx)


class PclusterInt(click.ParamType):
    """pcluster's integer flag values."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise WrongType("int", param, ctx) from None


class PclusterName(click.ParamType):
    """A cluster name or image id, checked against pcluster's pattern as its CLI does for every verb."""

    name = "name"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        import re

        pattern = "^[a-zA-Z][a-zA-Z0-9-]+$"
        if not re.match(pattern, str(value)):
            raise BadPattern(str(value), pattern, param, ctx)
        return str(value)


class BadPattern(click.BadParameter):
    """A name that does not match pcluster's pattern (JSON on stdout, exit 1, as pcluster)."""

    def __init__(self, value: str, pattern: str, param: click.Parameter | None, ctx: click.Context | None):
        super().__init__(f"{value!r} does not match {pattern!r}", ctx=ctx, param=param)
        self.value, self.pattern = value, pattern

    def pcluster_message(self) -> str:
        return f"Bad Request: {self.value!r} does not match {self.pattern!r} - {flag_name(self.param)!r}"


BOOL = PclusterBool()
INT = PclusterInt()
NAME = PclusterName()


def expand_multi_values(argv: Sequence[str]) -> list[str]:
    """``--suppress-validators a b --x`` → ``--suppress-validators a --suppress-validators b --x``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        out.append(arg)
        i += 1
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg in MULTI_VALUE_OPTIONS:
            first = True
            while i < len(argv) and not argv[i].startswith("-"):
                if not first:
                    out.append(arg)
                out.append(argv[i])
                first = False
                i += 1
    return out


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"corral {__version__} (ParallelCluster {PCLUSTER_COMPAT_VERSION} compatible)")
        ctx.exit(0)


def common(func: Callable[..., Any]) -> Callable[..., Any]:
    """The flags every command takes: pcluster's ``--region``, ``--debug``, ``--query``, and Corral's
    ``--output``."""
    func = click.option("--debug", is_flag=True, help="Turn on debug logging; show tracebacks.")(func)
    func = click.option("--query", help="JMESPath query to perform on output.")(func)
    func = click.option(
        "--output",
        type=click.Choice(["json", "table"]),
        default="json",
        show_default=True,
        help="Corral: print JSON (pcluster's shape) or a table.",
    )(func)
    func = click.option("-r", "--region", help="AWS Region (recorded; the local provider ignores it).")(func)
    return func


def options(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Several option decorators as one, in the order they would be stacked (so ``--help`` lists
    them in that order)."""

    def apply(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def cluster_name_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-n", "--cluster-name", required=True, type=NAME, help="Name of the cluster.")(func)


def provider_choice(purpose: str) -> Callable[[Any], Any]:
    """Corral's ``--provider`` flag; ``purpose`` ends its help (``where the cluster runs``)."""
    return click.option(
        "--provider",
        envvar="CORRAL_PROVIDER",
        default=PROVIDER_NAMES[0],
        show_default=True,
        type=click.Choice(PROVIDER_NAMES),
        help=f"Corral: {purpose} (env CORRAL_PROVIDER).",
    )


provider_option = provider_choice("where the cluster runs")


def wait_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--wait", is_flag=True, help="Corral: wait until done, showing progress and events on stderr."
    )(func)


def next_token_option(help: str = "Token for paginated requests.") -> Callable[[Any], Any]:
    return click.option("--next-token", help=help)


def validation_options(suppress_help: str) -> Callable[[Any], Any]:
    """``--suppress-validators`` and ``--validation-failure-level``, as pcluster's create verbs take them."""
    return options(
        click.option("--suppress-validators", multiple=True, help=suppress_help),
        click.option(
            "--validation-failure-level",
            type=click.Choice(VALIDATION_LEVELS),
            default="ERROR",
            show_default=True,
        ),
    )


SUPPRESS_HELP = "Validators to suppress: ALL or type:NAME."
SUPPRESS_SEVERAL_HELP = "Validators to suppress: ALL or type:NAME (several allowed)."

#: what ``create-cluster`` and ``build-image`` take after their config file
create_options = options(
    click.option("--dryrun", type=BOOL, default=False, help="Only validate the request (true|false)."),
    click.option(
        "--rollback-on-failure", type=BOOL, default=True, help="Roll back on failure (default true)."
    ),
)

#: what the ``ssh``-like verbs take instead of ``common`` (they print no JSON)
session_options = options(
    click.option("-r", "--region", help="AWS Region of the cluster."),
    click.option("--debug", is_flag=True, help="Turn on debug logging; show tracebacks."),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show Corral's version and exit.",
)
@click.option(
    "--endpoint",
    envvar="CORRAL_API_URL",
    help="Corral: talk to the Corral server at this URL (token in $CORRAL_API_TOKEN) instead of local state.",
)
def cli(endpoint: str | None) -> None:
    """Corral builds real Slurm clusters from AWS ParallelCluster 3.16 config files: on this machine
    (Linux namespaces, the default) or on AWS. Verbs, flags and JSON follow `pcluster`."""
    if endpoint:
        os.environ["CORRAL_API_URL"] = endpoint


def _run(name: str, **kwargs: Any) -> None:
    from corral.cli import _commands

    _commands.run(name, **kwargs)


@cli.command("create-cluster")
@cluster_name_option
@click.option("-c", "--cluster-configuration", required=True, help="Path of the cluster config (YAML).")
@validation_options(SUPPRESS_SEVERAL_HELP)
@create_options
@provider_option
@wait_option
@common
def create_cluster(**kwargs: Any) -> None:
    """Create a cluster from a config file."""
    _run("create_cluster", **kwargs)


@cli.command("delete-cluster")
@cluster_name_option
@wait_option
@common
def delete_cluster(**kwargs: Any) -> None:
    """Delete a cluster and everything it runs."""
    _run("delete_cluster", **kwargs)


@cli.command("update-cluster")
@cluster_name_option
@click.option("-c", "--cluster-configuration", required=True, help="Path of the new cluster config (YAML).")
@validation_options(SUPPRESS_SEVERAL_HELP)
@click.option(
    "--dryrun", type=BOOL, default=False, help="Only show the change set; change nothing (true|false)."
)
@click.option(
    "--force-update",
    type=BOOL,
    default=False,
    help="Apply even changes the update policies refuse (true|false).",
)
@wait_option
@common
def update_cluster(**kwargs: Any) -> None:
    """Update a running cluster to a new config (live where Slurm can apply the change)."""
    _run("update_cluster", **kwargs)


@cli.command("describe-cluster")
@cluster_name_option
@common
def describe_cluster(**kwargs: Any) -> None:
    """Describe a cluster."""
    _run("describe_cluster", **kwargs)


@cli.command("list-clusters")
@click.option(
    "--cluster-status", multiple=True, type=click.Choice(CLUSTER_STATUSES), help="Filter by status."
)
@next_token_option()
@common
def list_clusters(**kwargs: Any) -> None:
    """List the clusters."""
    _run("list_clusters", **kwargs)


@cli.command("describe-cluster-instances")
@cluster_name_option
@click.option("--node-type", type=click.Choice(NODE_TYPES), help="Filter by node type.")
@click.option("--queue-name", help="Filter by queue.")
@next_token_option()
@common
def describe_cluster_instances(**kwargs: Any) -> None:
    """Describe the instances of a cluster."""
    _run("describe_cluster_instances", **kwargs)


@cli.command("delete-cluster-instances")
@cluster_name_option
@click.option("--force", type=BOOL, default=False, help="Also when the cluster is not found (true|false).")
@provider_option
@common
def delete_cluster_instances(**kwargs: Any) -> None:
    """Terminate every compute node of a cluster."""
    _run("delete_cluster_instances", **kwargs)


@cli.command("describe-compute-fleet")
@cluster_name_option
@common
def describe_compute_fleet(**kwargs: Any) -> None:
    """Describe the status of the compute fleet."""
    _run("describe_compute_fleet", **kwargs)


@cli.command("update-compute-fleet")
@cluster_name_option
@click.option("--status", required=True, type=click.Choice(FLEET_REQUESTS), help="Requested fleet status.")
@wait_option
@common
def update_compute_fleet(**kwargs: Any) -> None:
    """Start or stop the compute fleet."""
    _run("update_compute_fleet", **kwargs)


@cli.command("get-cluster-stack-events")
@cluster_name_option
@next_token_option()
@common
def get_cluster_stack_events(**kwargs: Any) -> None:
    """The events of a cluster's creation, update and deletion, newest first."""
    _run("get_cluster_stack_events", **kwargs)


FILTERS_HELP = (
    "Filter the logs: 'Name=private-dns-name,Values=ip-10-0-0-101' or 'Name=node-type,Values=HeadNode'."
)


log_time_options = options(
    click.option("--start-time", help="Start of the interval, ISO 8601, inclusive."),
    click.option("--end-time", help="End of the interval, ISO 8601 (2026-01-01T20:00:00Z), exclusive."),
)

#: what ``get-cluster-log-events`` and ``get-image-log-events`` take after the cluster or image
log_events_options = options(
    click.option("--log-stream-name", required=True, help="Name of the log stream."),
    log_time_options,
    click.option(
        "--start-from-head", type=BOOL, default=False, help="Earliest events first (default false: latest)."
    ),
    click.option("--limit", type=INT, help="Maximum number of events (default: up to 10,000 or 1 MB)."),
    next_token_option(help="Token for paginated requests (nextToken or prevToken)."),
)

#: where ``export-cluster-logs`` and ``export-image-logs`` put the archive, and which interval
export_options = options(
    click.option(
        "--bucket", help="S3 bucket to upload the archive to (AWS_ENDPOINT_URL selects the endpoint)."
    ),
    click.option("--bucket-prefix", help="Key prefix of the archive in the bucket."),
    click.option("--output-file", help="Write the archive to this file (or into this existing directory)."),
    click.option(
        "--keep-s3-objects", type=BOOL, default=False, help="With --output-file, also keep it in S3."
    ),
    log_time_options,
)

retained_provider_option = provider_choice("where to find the retained logs of a deleted cluster")


@cli.command("list-cluster-log-streams")
@cluster_name_option
@click.option("--filters", multiple=True, help=FILTERS_HELP)
@next_token_option()
@retained_provider_option
@common
def list_cluster_log_streams(**kwargs: Any) -> None:
    """List the log streams of a cluster (one per log file of each node)."""
    _run("list_cluster_log_streams", **kwargs)


@cli.command("get-cluster-log-events")
@cluster_name_option
@log_events_options
@retained_provider_option
@common
def get_cluster_log_events(**kwargs: Any) -> None:
    """Get the events of a log stream."""
    _run("get_cluster_log_events", **kwargs)


@cli.command("export-cluster-logs")
@cluster_name_option
@export_options
@click.option("--filters", multiple=True, help=FILTERS_HELP)
@retained_provider_option
@common
def export_cluster_logs(**kwargs: Any) -> None:
    """Export the logs of a cluster to a tar.gz archive, locally or in S3."""
    _run("export_cluster_logs", **kwargs)


@cli.command(
    "ssh",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@cluster_name_option
@click.option(
    "--user", help="Corral: log in as this user (default: the cluster's, ec2-user/ubuntu/rocky by Image/Os)."
)
@click.option(
    "--login-pool",
    help="Corral: connect to a node of this login node pool instead of the head node (round robin).",
)
@click.option("--dryrun", type=BOOL, default=False, help="Print the command and exit (true|false).")
@session_options
@click.argument("ssh_args", nargs=-1, type=click.UNPROCESSED)
def ssh(**kwargs: Any) -> None:
    """SSH to the head node as the cluster's default user: `ssh USER@HEAD ARGS`. ARGS are ssh's
    options, then the command (`corral ssh -n demo -i key.pem -- sinfo`). With `--login-pool POOL`,
    to one of that pool's login nodes instead."""
    _run("ssh", **kwargs)


@cli.command("dcv-connect")
@cluster_name_option
@click.option("--key-path", help="Path of the SSH key to use for the connection.")
@click.option("--login-node-ip", help="Address of a login node with DCV enabled (default: the head node).")
@click.option("--show-url", is_flag=True, help="Print the one-time URL and exit.")
@session_options
def dcv_connect(**kwargs: Any) -> None:
    """Open a NICE DCV session on the head node (or a login node) in the browser."""
    _run("dcv_connect", **kwargs)


def image_id_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-i", "--image-id", required=True, type=NAME, help="Id of the image.")(func)


image_provider_option = provider_choice("where the image is built")


@cli.command("build-image")
@image_id_option
@click.option("-c", "--image-configuration", required=True, help="Path of the image config (YAML).")
@validation_options(SUPPRESS_HELP)
@create_options
@click.option(
    "--wait", is_flag=True, help="Corral: wait until the build ends; print describe-image's answer."
)
@image_provider_option
@common
def build_image(**kwargs: Any) -> None:
    """Build a custom image: the build phase in a node booted from the parent image, then the
    validate and test phases in a node booted from the result (returns at once; see describe-image)."""
    _run("build_image", **kwargs)


@cli.command("describe-image")
@image_id_option
@image_provider_option
@common
def describe_image(**kwargs: Any) -> None:
    """Describe a custom image: its build status, its AMI, why a build failed."""
    _run("describe_image", **kwargs)


@cli.command("list-images")
@click.option(
    "--image-status",
    required=True,
    type=click.Choice(["AVAILABLE", "PENDING", "FAILED"]),
    help="Filter by status.",
)
@next_token_option()
@image_provider_option
@common
def list_images(**kwargs: Any) -> None:
    """List the custom images in a status."""
    _run("list_images", **kwargs)


@cli.command("delete-image")
@image_id_option
@click.option("--force", type=BOOL, default=False, help="Delete even if clusters use the image (true|false).")
@image_provider_option
@common
def delete_image(**kwargs: Any) -> None:
    """Delete a custom image (and stop its build if it is in progress)."""
    _run("delete_image", **kwargs)


@cli.command("list-image-log-streams")
@image_id_option
@next_token_option()
@image_provider_option
@common
def list_image_log_streams(**kwargs: Any) -> None:
    """List the log streams of an image build."""
    _run("list_image_log_streams", **kwargs)


@cli.command("get-image-log-events")
@image_id_option
@log_events_options
@image_provider_option
@common
def get_image_log_events(**kwargs: Any) -> None:
    """Get the events of an image build's log stream."""
    _run("get_image_log_events", **kwargs)


@cli.command("get-image-stack-events")
@image_id_option
@next_token_option()
@image_provider_option
@common
def get_image_stack_events(**kwargs: Any) -> None:
    """The events of an image's build and deletion, newest first."""
    _run("get_image_stack_events", **kwargs)


@cli.command("export-image-logs")
@image_id_option
@export_options
@image_provider_option
@common
def export_image_logs(**kwargs: Any) -> None:
    """Export the logs of an image build to a tar.gz archive, locally or in S3."""
    _run("export_image_logs", **kwargs)


@cli.command("run")
@click.option("-c", "--cluster-configuration", required=True, help="Path of the cluster config (YAML).")
@click.option("-n", "--cluster-name", help="Name of the cluster (default: run-<random>).")
@click.option("--wrap", multiple=True, help="A command to run as a batch job (several allowed).")
@click.option("--stage", multiple=True, help="LOCAL_PATH:/REMOTE/DIR copied into shared storage first.")
@click.option("--collect", multiple=True, help="Glob of outputs to collect (relative to the job directory).")
@click.option("--to", help="Where collected files go: a directory or s3://bucket/prefix.")
@click.option("--timeout", help="Cancel the jobs and tear down after this long (90, 15m, 2h).")
@click.option("--ttl", help="The cluster deletes itself after this long, even if corral is killed.")
@click.option("--keep", is_flag=True, help="Keep the cluster when something failed (for debugging).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--junit", help="Write a JUnit XML report of the jobs to this file.")
@validation_options(SUPPRESS_HELP)
@provider_option
@click.option("--debug", is_flag=True, help="Turn on debug logging; show tracebacks.")
@click.argument("jobs", nargs=-1)
def run_workload(**kwargs: Any) -> None:
    """Corral: create a cluster, run JOBS (batch scripts) and --wrap commands on it, collect their
    outputs, delete it, and exit with the first failing job's exit code."""
    kwargs.pop("debug", None)
    from corral.cli import _run as run_command

    run_command.run(**kwargs)


@cli.command("list-official-images")
@click.option("--os", "os_name", help="Filter by OS distribution (default: no filter).")
@click.option("--architecture", help="Filter by architecture (default: no filter).")
@common
def list_official_images(**kwargs: Any) -> None:
    """List the official images (locally: each Os with the Debian 13 image it boots from)."""
    _run("list_official_images", **kwargs)


@cli.command("repair-state")
@common
def repair_state(**kwargs: Any) -> None:
    """Corral: rebuild the state database's records from the clusters' own directories (a damaged
    database is kept aside, never deleted; running clusters are not touched)."""
    _run("repair_state", **kwargs)


@cli.command("list-databases")
@provider_option
@common
def list_databases(**kwargs: Any) -> None:
    """Corral: the accounting database stand-ins (one per Database/Uri; they outlive clusters)."""
    _run("list_databases", **kwargs)


@cli.command("delete-database")
@click.option("--uri", required=True, help="The Database/Uri whose stand-in to remove, with its data.")
@click.option("--force", type=BOOL, default=False, help="Also while clusters use it (true|false).")
@provider_option
@common
def delete_database(**kwargs: Any) -> None:
    """Corral: stop and remove an accounting database stand-in and its data."""
    _run("delete_database", **kwargs)


@cli.command("restore-clusters")
@common
def restore_clusters(**kwargs: Any) -> None:
    """Corral: bring back every cluster of the state directory whose host restarted (the boot-time
    service installed by scripts/setup.sh runs this; any command restores a cluster it touches)."""
    _run("restore_clusters", **kwargs)


@cli.command("configure")
@click.option("-c", "--config", required=True, help="Path to output the generated config file.")
@click.option("-r", "--region", help="AWS Region this operation corresponds to.")
@provider_option
@click.option("--debug", is_flag=True, help="Turn on debug logging.")
def configure(**kwargs: Any) -> None:
    """Start the configuration: pcluster's wizard writes a cluster config file (answers may be piped
    in, one line per question). Offline unless --provider aws, which lists the account's key pairs
    and subnets."""
    _run("configure", **kwargs)


@cli.command("version")
@click.option("--debug", is_flag=True, help="Turn on debug logging.")
def version(**kwargs: Any) -> None:
    """Print the ParallelCluster version Corral follows, and Corral's own."""
    _run("version", **kwargs)


@cli.group("api")
def api() -> None:
    """Corral: the REST API server (pcluster's /v3 operations) and its tokens."""


@api.command("serve")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default)."
)
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port.")
@click.option("--tls-cert", help="PEM certificate: serve HTTPS (with --tls-key).")
@click.option("--tls-key", help="PEM private key of --tls-cert.")
@click.option(
    "--allow-insecure-remote",
    is_flag=True,
    help="Serve plain HTTP on a non-loopback address (only behind a TLS proxy).",
)
@click.option("--cors-origin", multiple=True, help="Allow this browser origin (CORS); none by default.")
@provider_option
def api_serve(**kwargs: Any) -> None:
    """Serve the /v3 API (and the spec at /v3/openapi.json) until interrupted."""
    from corral.cli import _api

    _api.serve(**kwargs)


@api.group("token")
def api_token() -> None:
    """API tokens: each is printed once at creation; only its hash is kept."""


@api_token.command("create")
@click.option("--name", required=True, help="Who or what the token is for.")
@click.option("--read-only", is_flag=True, help="The token can read but not change anything.")
def api_token_create(**kwargs: Any) -> None:
    """Create a token and print it (the only time it is shown)."""
    from corral.cli import _api

    _api.token_create(**kwargs)


@api_token.command("list")
def api_token_list() -> None:
    """List the tokens (names, read-only, created, revoked; never the secrets)."""
    from corral.cli import _api

    _api.token_list()


@api_token.command("revoke")
@click.option("--name", required=True, help="Name of the token to revoke.")
def api_token_revoke(**kwargs: Any) -> None:
    """Revoke a token: the server refuses it from the next request on."""
    from corral.cli import _api

    _api.token_revoke(**kwargs)


@cli.command("_worker", hidden=True)
@click.argument("operation", type=click.Choice(["create", "delete", "update"]))
@click.argument("cluster_name")
def worker(operation: str, cluster_name: str) -> None:
    """Run a create, update or delete in the background (started by the verbs without --wait)."""
    from corral.cli import _worker

    _worker.run_worker(operation, cluster_name)


def _usage_error(exc: click.ClickException) -> int:
    """A bad command line, as pcluster reports it: ``{"message": ...}`` on stdout always (scripts
    read one shape); a wrong type or pattern exits 1 as pcluster's; other usage errors (missing flag,
    bad choice) keep click's usage on stderr and exit 2 as pcluster's argparse does, an unknown flag
    exits 1 as pcluster's "Invalid arguments"."""
    import json

    if isinstance(exc, WrongType | BadPattern):
        print(json.dumps({"message": exc.pcluster_message()}, indent=2))
        return 1
    print(json.dumps({"message": f"Bad Request: {exc.format_message()}"}, indent=2))
    exc.show()
    return 1 if isinstance(exc, click.NoSuchOption) else exc.exit_code


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: errors become pcluster-style JSON on stdout and a hint on stderr."""
    args = expand_multi_values(sys.argv[1:] if argv is None else list(argv))
    try:
        cli.main(args=args, prog_name="corral", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        sys.exit(_usage_error(exc))
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except BaseException as exc:
        from corral.cli import _errors

        sys.exit(_errors.report(exc, debug="--debug" in args or bool(os.environ.get("CORRAL_DEBUG"))))


if __name__ == "__main__":
    main()
