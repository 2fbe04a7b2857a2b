"""Names: the cluster name, queue / compute-resource / pool names, shared-storage names, duplicates.

Rules (ParallelCluster 3.16): cluster names match ``^[a-zA-Z][a-zA-Z0-9-]*$`` and are at most 60
characters, 40 when Slurm accounting (Database or ExternalSlurmdbd) is on; queue, compute-resource and
login-pool names match ``^[a-z][a-z0-9-]*$``, are at most 25 characters and never ``default``;
shared-storage names are tag values of at most 30 characters and never ``default``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from corral.config.findings import Finding
from corral.config.validators._base import (
    ClusterContext,
    compute_resources,
    error,
    g,
    login_pools,
    queues,
    storages,
)

CLUSTER_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
CLUSTER_NAME_MAX = 60
CLUSTER_NAME_MAX_ACCOUNTING = 40
NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
NAME_MAX = 25
SHARED_STORAGE_NAME_MAX = 30
TAG_VALUE_RE = re.compile(r"^[\w+\-=._:@/]{0,256}$")


def cluster_name_problem(name: str, *, accounting: bool) -> str | None:
    """Why ``name`` is not a valid cluster name, or None. Shared with the CLI's name check."""
    limit = CLUSTER_NAME_MAX_ACCOUNTING if accounting else CLUSTER_NAME_MAX
    if not CLUSTER_NAME_RE.match(name) or len(name) > limit:
        when = " when Slurm accounting is used" if accounting else ""
        return (
            f"invalid cluster name {name!r}: it may contain only letters, digits and hyphens, must start "
            f"with a letter and be at most {limit} characters{when}"
        )
    return None


def cluster_name(ctx: ClusterContext) -> Iterator[Finding]:
    """ClusterNameValidator: the cluster name's pattern and length (40 with Slurm accounting)."""
    settings = g(ctx.config, "scheduling", "slurm_settings")
    accounting = g(settings, "database") is not None or g(settings, "external_slurmdbd") is not None
    problem = cluster_name_problem(ctx.cluster_name, accounting=accounting)
    if problem:
        yield error("ClusterNameValidator", "", problem, "choose a name like 'my-cluster-1'")


def _name_findings(path: str, name: str | None) -> Iterator[Finding]:
    if name is None:
        return
    if not NAME_RE.match(name):
        yield error(
            "NameValidator",
            path,
            f"invalid name {name!r}: it must begin with a letter and contain only lowercase letters, "
            "digits and hyphens",
            f"try {_suggest_name(name)!r}",
        )
    if len(name) > NAME_MAX:
        yield error(
            "NameValidator",
            path,
            f"invalid name {name!r}: at most {NAME_MAX} characters ({len(name)} given)",
            "shorten the name",
        )
    if name == "default":
        yield error("NameValidator", path, "'default' is reserved and cannot be used as a name", "rename it")


def _suggest_name(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "q" + cleaned
    return cleaned[:NAME_MAX]


def resource_names(ctx: ClusterContext) -> Iterator[Finding]:
    """NameValidator: queue, compute-resource and login-pool names."""
    for qpath, queue in queues(ctx.config):
        yield from _name_findings(f"{qpath}/Name", g(queue, "name"))
    for crpath, _queue, cr in compute_resources(ctx.config):
        yield from _name_findings(f"{crpath}/Name", g(cr, "name"))
    for ppath, pool in login_pools(ctx.config):
        yield from _name_findings(f"{ppath}/Name", g(pool, "name"))


def _duplicates(
    kind: str,
    entries: Iterable[tuple[str, str | None]],
    hint: str = "give each a unique name",
    make: Callable[[str, str, str, str], Finding] = error,
) -> Iterator[Finding]:
    """One finding per repeated value, located at its second (and later) occurrence."""
    seen: Counter[str] = Counter()
    for path, value in entries:
        if value is None:
            continue
        seen[value] += 1
        if seen[value] == 2:
            yield make("DuplicateNameValidator", path, f"{kind} name {value!r} must be unique", hint)


def duplicate_names(ctx: ClusterContext) -> Iterator[Finding]:
    """DuplicateNameValidator: queue, compute-resource, pool and storage names and storage ids are unique."""
    cfg = ctx.config
    yield from _duplicates("Queue", ((f"{p}/Name", g(q, "name")) for p, q in queues(cfg)))
    for qpath, queue in queues(cfg):
        entries = (
            (f"{qpath}/ComputeResources[{j}]/Name", g(cr, "name"))
            for j, cr in enumerate(g(queue, "compute_resources") or ())
        )
        yield from _duplicates("Compute resource", entries)
    # Storage names become AWS tags and ids name AWS resources; locally each entry is its own directory.
    yield from _duplicates(
        "Shared Storage", ((f"{p}/Name", g(s, "name")) for p, s in storages(cfg)), make=error
    )
    yield from _duplicates(
        "Shared Storage ID",
        _existing_storage_ids(cfg),
        "mount each existing file system or volume only once",
        error,
    )
    yield from _duplicates("Pool", ((f"{p}/Name", g(pool, "name")) for p, pool in login_pools(cfg)))


def _existing_storage_ids(cfg: object) -> Iterator[tuple[str, str | None]]:
    for path, storage in storages(cfg):
        for settings, key, yaml in (
            ("ebs_settings", "volume_id", "EbsSettings/VolumeId"),
            ("efs_settings", "file_system_id", "EfsSettings/FileSystemId"),
            ("fsx_lustre_settings", "file_system_id", "FsxLustreSettings/FileSystemId"),
            ("fsx_open_zfs_settings", "volume_id", "FsxOpenZfsSettings/VolumeId"),
            ("fsx_ontap_settings", "volume_id", "FsxOntapSettings/VolumeId"),
            ("file_cache_settings", "file_cache_id", "FileCacheSettings/FileCacheId"),
        ):
            value = g(storage, settings, key)
            if value:
                yield f"{path}/{yaml}", value


def shared_storage_names(ctx: ClusterContext) -> Iterator[Finding]:
    """SharedStorageNameValidator: storage names are tag values, at most 30 characters, not 'default'."""
    for path, storage in storages(ctx.config):
        name = g(storage, "name")
        if name is None:
            continue
        where = f"{path}/Name"
        if not TAG_VALUE_RE.match(name):
            yield error(
                "SharedStorageNameValidator",
                where,
                f"invalid shared storage name {name!r}: allowed are letters, digits, white space "
                "and + - = . _ : / @",
                "the name becomes a tag value; remove other characters",
            )
        if len(name) > SHARED_STORAGE_NAME_MAX:
            yield error(
                "SharedStorageNameValidator",
                where,
                f"invalid name {name!r}: at most {SHARED_STORAGE_NAME_MAX} characters",
                "shorten the name",
            )
        if name == "default":
            yield error(
                "SharedStorageNameValidator", where, "'default' cannot be used as a name", "rename it"
            )


VALIDATORS = (cluster_name, resource_names, duplicate_names, shared_storage_names)
