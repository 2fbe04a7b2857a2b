"""Slurm settings: the deny-list for CustomSlurmSettings at each level (keys Corral manages itself),
reserved node names, the include file, node priorities, the accounting database URI and the
external slurmdbd (ParallelCluster 3.16)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

from corral.config.findings import Finding
from corral.config.validators._base import (
    ClusterContext,
    error,
    g,
    info,
    items,
    queues,
    warning,
)

#: Keys Corral (like ParallelCluster) writes itself; users may not override them at that level.
DENY_SLURM_CONF = frozenset(
    {
        "epilog",
        "grestypes",
        "launchparameters",
        "prolog",
        "reconfigflags",
        "resumefailprogram",
        "resumeprogram",
        "resumetimeout",
        "slurmctldhost",
        "slurmctldlogfile",
        "slurmctldparameters",
        "slurmdlogfile",
        "slurmuser",
        "suspendexcnodes",
        "suspendprogram",
        "suspendtime",
        "taskplugin",
        "treewidth",
    }
)
DENY_ACCOUNTING = frozenset(
    {
        "accountingstoragetype",
        "accountingstoragehost",
        "accountingstorageport",
        "accountingstorageuser",
        "jobacctgathertype",
    }
)
DENY_QUEUE = frozenset({"nodes", "partitionname", "resumetimeout", "state", "suspendtime", "oversubscribe"})
DENY_COMPUTE_RESOURCE = frozenset({"cpus", "gres", "nodeaddr", "nodehostname", "nodename", "state", "weight"})
SETTINGS = "Scheduling/SlurmSettings"
MIN_PRIORITY, MAX_PRIORITY = 1, 2**32 - 1


def _denied(pairs: tuple[tuple[str, str], ...], deny: frozenset[str]) -> list[str]:
    return sorted({key for key, _value in pairs if key.lower() in deny})


def _conf_level_denied(ctx: ClusterContext, deny: frozenset[str]) -> Iterator[tuple[str, str]]:
    """``(path, key)`` of each denied cluster-level key. Keys inside a multi-key item (a node or
    partition definition such as ``NodeName: x`` + ``CPUs: 4``) are skipped, as ParallelCluster does."""
    pairs = items(ctx.config, "scheduling", "slurm_settings", "custom_slurm_settings")
    keys = sorted({key for key, _value in pairs})
    base = f"{SETTINGS}/CustomSlurmSettings"
    for key in keys:
        if key.lower() not in deny:
            continue
        for i in range(len(pairs)):
            if not ctx.present(f"{base}[{i}]/{key}"):
                continue
            if not any(other != key and ctx.present(f"{base}[{i}]/{other}") for other in keys):
                yield f"{base}[{i}]/{key}", key


def custom_settings_deny_list(ctx: ClusterContext) -> Iterator[Finding]:
    """CustomSlurmSettingsValidator: keys Corral manages are refused at each level."""
    code = "CustomSlurmSettingsValidator"
    hint = "Corral manages these keys itself; remove them from CustomSlurmSettings"
    deny = DENY_SLURM_CONF
    if g(ctx.config, "scheduling", "slurm_settings", "database") is not None:
        deny = deny | DENY_ACCOUNTING
    for path, key in _conf_level_denied(ctx, deny):
        yield error(code, path, f"the custom Slurm setting {key} is not allowed at SlurmConf level", hint)
    for qpath, queue in queues(ctx.config):
        for key in _denied(items(queue, "custom_slurm_settings"), DENY_QUEUE):
            yield error(
                code,
                f"{qpath}/CustomSlurmSettings/{key}",
                f"the custom Slurm setting {key} is not allowed at Queue level",
                hint,
            )
        for j, cr in enumerate(items(queue, "compute_resources")):
            for key in _denied(items(cr, "custom_slurm_settings"), DENY_COMPUTE_RESOURCE):
                yield error(
                    code,
                    f"{qpath}/ComputeResources[{j}]/CustomSlurmSettings/{key}",
                    f"the custom Slurm setting {key} is not allowed at ComputeResource level",
                    hint,
                )


def custom_node_names(ctx: ClusterContext) -> Iterator[Finding]:
    """CustomSlurmNodeNamesValidator: custom node names never contain -st- or -dy-."""
    pairs = items(ctx.config, "scheduling", "slurm_settings", "custom_slurm_settings")
    bad = sorted(
        value for key, value in pairs if key.lower() == "nodename" and ("-st-" in value or "-dy-" in value)
    )
    if bad:
        yield error(
            "CustomSlurmNodeNamesValidator",
            f"{SETTINGS}/CustomSlurmSettings",
            f"'-st-' and '-dy-' in node names are reserved for managed nodes: {', '.join(bad)}",
            "rename these custom nodes",
        )


def include_file_only(ctx: ClusterContext) -> Iterator[Finding]:
    """CustomSlurmSettingsIncludeFileOnlyValidator: settings or an include file, not both."""
    settings = g(ctx.config, "scheduling", "slurm_settings")
    if items(settings, "custom_slurm_settings") and g(settings, "custom_slurm_settings_include_file"):
        yield error(
            "CustomSlurmSettingsIncludeFileOnlyValidator",
            f"{SETTINGS}/CustomSlurmSettingsIncludeFile",
            "CustomSlurmSettings and CustomSlurmSettingsIncludeFile cannot be used together",
            "move the settings into the include file, or drop the include file",
        )


def node_priorities(ctx: ClusterContext) -> Iterator[Finding]:
    """SlurmNodePrioritiesWarningValidator: static nodes rank before dynamic ones."""
    for qpath, queue in queues(ctx.config):
        crs = items(queue, "compute_resources")
        static = {g(cr, "name"): g(cr, "static_node_priority") for cr in crs if (g(cr, "min_count") or 0) > 0}
        dynamic = {
            g(cr, "name"): g(cr, "dynamic_node_priority")
            for cr in crs
            if (g(cr, "max_count") or 0) > (g(cr, "min_count") or 0)
        }
        static = {k: v for k, v in static.items() if v is not None}
        dynamic = {k: v for k, v in dynamic.items() if v is not None}
        max_static = max(static.values(), default=MIN_PRIORITY - 1)
        min_dynamic = min(dynamic.values(), default=MAX_PRIORITY + 1)
        bad_static = {k: v for k, v in static.items() if v >= min_dynamic}
        bad_dynamic = {k: v for k, v in dynamic.items() if v <= max_static}
        if bad_static or bad_dynamic:
            yield warning(
                "SlurmNodePrioritiesWarningValidator",
                f"{qpath}/ComputeResources",
                f"in queue {g(queue, 'name')!r} static nodes have a priority higher than or equal to dynamic "
                f"nodes (static {bad_static}, dynamic {bad_dynamic})",
                "give static nodes lower StaticNodePriority than every DynamicNodePriority",
            )


def database_uri(ctx: ClusterContext) -> Iterator[Finding]:
    """DatabaseUriValidator: host[:port] without scheme or leading slash."""
    uri = g(ctx.config, "scheduling", "slurm_settings", "database", "uri")
    if uri is None:
        return
    path = f"{SETTINGS}/Database/Uri"
    code = "DatabaseUriValidator"
    if uri.startswith("/"):
        yield error(code, path, f"invalid URI {uri!r}: remove the leading '/'", "write host[:port]")
        return
    parsed = urlparse(uri) if "://" in uri else urlparse("//" + uri)
    try:
        scheme, netloc, port = parsed.scheme, parsed.netloc, parsed.port
    except ValueError as exc:
        yield error(code, path, f"invalid URI {uri!r}: {exc}", "write host[:port]")
        return
    if scheme:
        yield error(
            code, path, f"invalid URI {uri!r}: do not give a scheme ({scheme}://)", "write host[:port]"
        )
    elif not netloc:
        yield error(code, path, f"invalid URI {uri!r}", "write host[:port]")
    elif not port:
        yield info(code, path, "no port in the URI: assuming 3306", "write host:port to be explicit")


def external_slurmdbd(ctx: ClusterContext) -> Iterator[Finding]:
    """ExternalSlurmdbd rules: not with Database, needs a munge key, traffic unencrypted."""
    settings = g(ctx.config, "scheduling", "slurm_settings")
    external = g(settings, "external_slurmdbd")
    if external is None:
        return
    path = f"{SETTINGS}/ExternalSlurmdbd"
    if g(settings, "database") is not None:
        yield error(
            "ExternalSlurmdbdVsDatabaseIncompatibility",
            path,
            "Database and ExternalSlurmdbd cannot both be set in SlurmSettings",
            "keep one of them",
        )
    if not g(settings, "munge_key_secret_arn"):
        yield error(
            "ExternalSlurmdbdRequiresCustomMungeKey",
            path,
            "ExternalSlurmdbd requires MungeKeySecretArn",
            "add SlurmSettings/MungeKeySecretArn with the key your slurmdbd uses",
        )
    yield warning(
        "ExternalSlurmdbdTrafficNotEncrypted",
        path,
        "traffic to the external slurmdbd is not encrypted",
        "run the cluster and slurmdbd in a trusted network",
    )


def munge_key_arn(ctx: ClusterContext) -> Iterator[Finding]:
    """ArnServiceAndResourceValidator: MungeKeySecretArn is a Secrets Manager secret."""
    arn = g(ctx.config, "scheduling", "slurm_settings", "munge_key_secret_arn")
    if not arn:
        return
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "secretsmanager" or parts[5] != "secret":
        yield error(
            "ArnServiceAndResourceValidator",
            f"{SETTINGS}/MungeKeySecretArn",
            f"{arn!r} is not a Secrets Manager secret ARN",
            "use arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME",
        )


VALIDATORS = (
    custom_settings_deny_list,
    custom_node_names,
    include_file_only,
    node_priorities,
    database_uri,
    external_slurmdbd,
    munge_key_arn,
)
