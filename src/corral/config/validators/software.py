"""Operating system, AMI and add-on software rules decidable offline: private OSes need a custom
AMI, DCV and Intel HPC platform requirements, architecture/OS support, the scheduler, and the
DevSettings Chef attributes (ParallelCluster 3.16)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from corral.config import catalog
from corral.config.findings import Finding
from corral.config.validators._base import (
    ClusterContext,
    compute_resources,
    enum_value,
    error,
    g,
    head_architecture,
    login_pools,
    os_name,
    storage_type,
    storages,
    warning,
)

SUPPORTED_OSES = ("alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rocky8", "rhel9", "rocky9")
OSES_FOR_ARCHITECTURE = {"x86_64": SUPPORTED_OSES, "arm64": SUPPORTED_OSES}
PRIVATE_OSES = ("rocky8", "rocky9")
DCV_OSES = {"x86_64": SUPPORTED_OSES, "arm64": SUPPORTED_OSES}
INTEL_HPC_OSES = ("centos7",)
#: OSes without EFA support per architecture; ParallelCluster 3.16 lists none, so the rule is dormant.
EFA_UNSUPPORTED_OSES: dict[str, tuple[str, ...]] = {"x86_64": (), "arm64": ()}
CHEF = "DevSettings/Cookbook/ExtraChefAttributes"
MIN_RECONFIGURE_TIMEOUT = 300


def custom_ami_for_os(ctx: ClusterContext) -> Iterator[Finding]:
    """OsCustomAmiValidator: OSes without an official AMI need Image/CustomAmi."""
    os = os_name(ctx.config)
    if os in PRIVATE_OSES and not g(ctx.config, "image", "custom_ami"):
        yield error(
            "OsCustomAmiValidator",
            "Image/CustomAmi",
            f"there is no official AMI for {os}",
            "build one with `build-image` and set Image/CustomAmi",
        )


def architecture_os(ctx: ClusterContext) -> Iterator[Finding]:
    """ArchitectureOsValidator / FsxArchitectureOsValidator: the OS supports the architecture."""
    arch, os = head_architecture(ctx), os_name(ctx.config)
    if arch is None:
        return
    allowed = OSES_FOR_ARCHITECTURE.get(arch, ())
    if os not in allowed:
        yield error(
            "ArchitectureOsValidator",
            "Image/Os",
            f"the {arch} architecture is supported only with {list(allowed)}",
            "choose a supported OS",
        )
    storage_kinds = {storage_type(s) for _p, s in storages(ctx.config)}
    if "FsxLustre" in storage_kinds and os not in SUPPORTED_OSES:
        yield error(
            "FsxArchitectureOsValidator", "Image/Os", f"FSx for Lustre does not support {os} on {arch}"
        )


def _dcv_targets(ctx: ClusterContext) -> Iterator[tuple[str, Any, str | None]]:
    yield "HeadNode", g(ctx.config, "head_node", "dcv"), g(ctx.config, "head_node", "instance_type")
    for path, pool in login_pools(ctx.config):
        yield path, g(pool, "dcv"), g(pool, "instance_type")


def efa_os_architecture(ctx: ClusterContext) -> Iterator[Finding]:
    """EfaOsArchitectureValidator: EFA on OS/architecture pairs that support it."""
    os, arch = os_name(ctx.config), head_architecture(ctx)
    if arch is None or os not in EFA_UNSUPPORTED_OSES.get(arch, ()):
        return
    for path, _queue, cr in compute_resources(ctx.config):
        if g(cr, "efa", "enabled"):
            yield error(
                "EfaOsArchitectureValidator",
                f"{path}/Efa/Enabled",
                f"EFA is not supported on {os} for {arch}",
                "disable EFA or choose another OS",
            )


def dcv(ctx: ClusterContext) -> Iterator[Finding]:
    """DcvValidator: DCV's OS, instance size, open port and GPU."""
    os = os_name(ctx.config)
    for base, settings, instance_type in _dcv_targets(ctx):
        if not g(settings, "enabled"):
            continue
        path = f"{base}/Dcv"
        it = catalog.get(instance_type or "")
        arch = it.architecture if it else None
        if arch and os not in DCV_OSES.get(arch, ()):
            yield error("DcvValidator", f"{path}/Enabled", f"DCV is not supported on {os} ({arch})")
        if instance_type and ("micro" in instance_type or "nano" in instance_type):
            yield warning(
                "DcvValidator",
                f"{path}/Enabled",
                f"DCV on {instance_type} may be unstable",
                "use an instance type with at least 1.7 GB of memory",
            )
        if g(settings, "allowed_ips") == "0.0.0.0/0":
            yield warning(
                "DcvValidator",
                f"{path}/AllowedIps",
                f"DCV port {g(settings, 'port')} is open to the world (0.0.0.0/0)",
                "restrict AllowedIps to your network",
            )
        if it is not None and not it.gpu_count:
            yield warning(
                "DcvValidator",
                f"{path}/Enabled",
                f"DCV is enabled on {instance_type}, which has no GPU",
                "use a GPU instance type for DCV",
            )


def intel_hpc(ctx: ClusterContext) -> Iterator[Finding]:
    """IntelHpcOsValidator / IntelHpcArchitectureValidator: Intel HPC platform requirements."""
    if not g(ctx.config, "additional_packages", "intel_software", "intel_hpc_platform"):
        return
    path = "AdditionalPackages/IntelSoftware/IntelHpcPlatform"
    os = os_name(ctx.config)
    if os not in INTEL_HPC_OSES:
        yield error(
            "IntelHpcOsValidator", path, f"Intel HPC platform requires {list(INTEL_HPC_OSES)}, not {os}"
        )
    arch = head_architecture(ctx)
    if arch and arch != "x86_64":
        yield error(
            "IntelHpcArchitectureValidator", path, "Intel HPC platform requires x86_64 instance types"
        )


def scheduler(ctx: ClusterContext) -> Iterator[Finding]:
    """SchedulerValidator: the scheduler is Slurm."""
    value = enum_value(g(ctx.config, "scheduling", "scheduler"))
    if value is not None and value != "slurm":
        yield error("SchedulerValidator", "Scheduling/Scheduler", f"{value} is not supported", "use slurm")


def extra_chef_attributes(ctx: ClusterContext) -> Iterator[Finding]:
    """ExtraChefAttributesValidator: the Chef attributes ParallelCluster checks."""
    yield from chef_attribute_findings(g(ctx.config, "dev_settings", "cookbook", "extra_chef_attributes"))


def chef_attribute_findings(text: str | None) -> Iterator[Finding]:
    """ParallelCluster's checks on ExtraChefAttributes (shared with the image validators)."""
    if not text:
        return
    try:
        attrs = json.loads(text)
    except ValueError:
        return  # the model rejects invalid JSON
    cluster = attrs.get("cluster", {}) if isinstance(attrs, dict) else {}
    cluster = cluster if isinstance(cluster, dict) else {}
    code = "ExtraChefAttributesValidator"
    timeout = (
        (cluster.get("slurm") or {}).get("reconfigure_timeout")
        if isinstance(cluster.get("slurm"), dict)
        else None
    )
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int)):
        yield error(code, CHEF, "cluster.slurm.reconfigure_timeout must be an integer")
    elif timeout is not None and timeout <= MIN_RECONFIGURE_TIMEOUT:
        yield error(
            code, CHEF, f"cluster.slurm.reconfigure_timeout must be greater than {MIN_RECONFIGURE_TIMEOUT}"
        )
    for key, risky in (
        ("cluster_readiness_check_enabled", False),
        ("cluster_readiness_check_ignore_failure", True),
    ):
        value = cluster.get(key)
        if value is None:
            continue
        text_value = str(value).strip().lower()
        if text_value not in ("true", "false"):
            yield error(code, CHEF, f"cluster.{key} must be a boolean")
        elif (text_value == "true") is risky:
            yield warning(
                code, CHEF, f"cluster.{key} is {text_value}: nodes that failed to configure may go unnoticed"
            )


VALIDATORS = (
    custom_ami_for_os,
    architecture_os,
    efa_os_architecture,
    dcv,
    intel_hpc,
    scheduler,
    extra_chef_attributes,
)
