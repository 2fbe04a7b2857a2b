"""Tags: at most 40 keys reach a compute node (cluster, queue and compute-resource tags together,
ParallelCluster reserves the rest of EC2's 50), ``parallelcluster:`` keys are reserved, keys are
unique within a list, and overriding a key at a lower level is reported."""

from __future__ import annotations

from collections.abc import Iterator

from corral.config.findings import Finding
from corral.config.validators._base import ClusterContext, compute_resources, error, g, items, queues, warning

MAX_TAGS = 40
RESERVED_PREFIX = "parallelcluster:"
ALLOWED_RESERVED = "parallelcluster:custom_resource"


def _tag_lists(ctx: ClusterContext) -> Iterator[tuple[str, tuple[object, ...]]]:
    yield "Tags", items(ctx.config, "tags")
    for qpath, queue in queues(ctx.config):
        yield f"{qpath}/Tags", items(queue, "tags")
    for crpath, _q, cr in compute_resources(ctx.config):
        yield f"{crpath}/Tags", items(cr, "tags")


def tag_key_findings(base: str, tags: tuple[object, ...]) -> Iterator[Finding]:
    """TagKeyValidator for one tag list at ``base``: the parallelcluster: prefix is reserved and keys
    are unique. Shared by cluster and image configs."""
    seen: set[str] = set()
    for k, tag in enumerate(tags):
        key = str(g(tag, "key"))
        if key.startswith(RESERVED_PREFIX) and key != ALLOWED_RESERVED:
            yield error(
                "TagKeyValidator",
                f"{base}[{k}]/Key",
                f"the tag key prefix {RESERVED_PREFIX!r} is reserved",
                "choose another key",
            )
        if key in seen:
            yield error(
                "TagKeyValidator", f"{base}[{k}]/Key", f"duplicate tag key {key!r}", "remove one of them"
            )
        seen.add(key)


def reserved_and_duplicate_keys(ctx: ClusterContext) -> Iterator[Finding]:
    """Tag keys of the cluster, every queue and every compute resource."""
    for base, tags in _tag_lists(ctx):
        yield from tag_key_findings(base, tags)


def compute_resource_tags(ctx: ClusterContext) -> Iterator[Finding]:
    """ComputeResourceTagsValidator: at most 40 tags per compute resource; overrides warn."""
    cluster = {str(g(t, "key")) for t in items(ctx.config, "tags")}
    for crpath, queue, cr in compute_resources(ctx.config):
        q = {str(g(t, "key")) for t in items(queue, "tags")}
        c = {str(g(t, "key")) for t in items(cr, "tags")}
        total = len(cluster | q | c)
        if total > MAX_TAGS:
            yield error(
                "ComputeResourceTagsValidator",
                f"{crpath}/Tags",
                f"{total} tags apply to compute resource {g(cr, 'name')!r} in queue {g(queue, 'name')!r}; "
                f"the limit is {MAX_TAGS}",
                f"remove {total - MAX_TAGS} tags from Tags, the queue or the compute resource",
            )
        overridden = sorted((cluster & q) | (q & c) | (cluster & c))
        if overridden:
            yield warning(
                "ComputeResourceTagsValidator",
                f"{crpath}/Tags" if c & (cluster | q) else crpath.rsplit("/ComputeResources", 1)[0] + "/Tags",
                f"tag keys {overridden} are set at several levels; the most specific value wins for "
                f"compute resource {g(cr, 'name')!r}",
                "set each tag key at one level only if this is not intended",
            )


VALIDATORS = (reserved_and_duplicate_keys, compute_resource_tags)
