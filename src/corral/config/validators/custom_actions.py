"""Script URLs: custom action scripts, CustomSlurmSettingsIncludeFile and DevSettings/ClusterTemplate
must be ``s3://bucket/key``, ``https://...`` or a file path (Corral's local provider runs paths as-is;
ParallelCluster itself accepts only the two URL forms)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from corral.config.findings import Finding
from corral.config.validators._base import ClusterContext, error, g, login_pools, queues, warning

S3_OBJECT_RE = re.compile(r"^s3://([^/]+)/(.+)$")
SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
EVENTS = (
    ("on_node_start", "OnNodeStart"),
    ("on_node_configured", "OnNodeConfigured"),
    ("on_node_updated", "OnNodeUpdated"),
)


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an s3:// object URL, an https:// URL or a path; None when it is fine."""
    match = SCHEME_RE.match(url)
    if match is None:
        return None if url.strip() else "the URL is empty"
    scheme = match.group(1).lower()
    if scheme == "s3":
        return None if S3_OBJECT_RE.match(url) else f"the S3 URL {url!r} must name a bucket and a key"
    if scheme == "https":
        return None if len(url) > len("https://") else f"the URL {url!r} has no host"
    return f"the URL {url!r} uses {scheme}://; only s3://, https:// or a file path are accepted"


def _action_scripts(ctx: ClusterContext, owner: object, base: str) -> Iterator[tuple[str, str]]:
    actions = g(owner, "custom_actions")
    for attr, key in EVENTS:
        value = g(actions, attr)
        if value is None:
            continue
        scripts = value if isinstance(value, tuple | list) else (value,)
        where = f"{base}/CustomActions/{key}"
        sequence = ctx.present(f"{where}/Sequence")
        for k, script in enumerate(scripts):
            url = g(script, "script")
            if url is not None:
                yield (f"{where}/Sequence[{k}]/Script" if sequence else f"{where}/Script"), str(url)


def _urls(ctx: ClusterContext) -> Iterator[tuple[str, str]]:
    cfg = ctx.config
    yield from _action_scripts(ctx, g(cfg, "head_node"), "HeadNode")
    for qpath, queue in queues(cfg):
        yield from _action_scripts(ctx, queue, qpath)
    for ppath, pool in login_pools(cfg):
        yield from _action_scripts(ctx, pool, ppath)
    include = g(cfg, "scheduling", "slurm_settings", "custom_slurm_settings_include_file")
    if include:
        yield "Scheduling/SlurmSettings/CustomSlurmSettingsIncludeFile", str(include)
    template = g(cfg, "dev_settings", "cluster_template")
    if template:
        yield "DevSettings/ClusterTemplate", str(template)


def script_urls(ctx: ClusterContext) -> Iterator[Finding]:
    """UrlValidator: script URLs are s3://bucket/key, https:// or a path."""
    for path, url in _urls(ctx):
        problem = url_problem(url)
        if problem:
            yield error(
                "UrlValidator", path, problem, "use s3://bucket/key, https://host/path or a file path"
            )


#: ParallelCluster development packages: Corral never downloads or installs them.
DEV_PACKAGES = (
    (("node_package",), "DevSettings/NodePackage"),
    (("aws_batch_cli_package",), "DevSettings/AwsBatchCliPackage"),
    (("cookbook", "chef_cookbook"), "DevSettings/Cookbook/ChefCookbook"),
)


def unused_packages(dev: object) -> Iterator[Finding]:
    """A WARNING per ParallelCluster package URL: pcluster's UrlValidator warns when it cannot
    confirm the object; Corral neither confirms nor fetches it, so it says so under the same code."""
    for attrs, path in DEV_PACKAGES:
        url = g(dev, *attrs)
        if not url:
            continue
        problem = url_problem(str(url))
        if problem:
            yield error("UrlValidator", path, problem, "use s3://bucket/key or https://...")
        else:
            yield warning(
                "UrlValidator",
                path,
                f"{url} is a ParallelCluster package that Corral neither fetches nor installs; not checked",
                "remove it, or pass --suppress-validators type:UrlValidator",
            )


def dev_packages(ctx: ClusterContext) -> Iterator[Finding]:
    """UrlValidator: ParallelCluster development packages are not used by Corral."""
    yield from unused_packages(g(ctx.config, "dev_settings"))


VALIDATORS = (script_urls, dev_packages)
