"""What a node learns from AWS about its cluster's storage before mounting it (``_storage_setup``):
the ids from the stack's outputs, the DNS and mount names of FSx file systems, ONTAP and OpenZFS
volumes and File Caches (FSx's Describe calls), and the VPC's CIDR blocks from instance metadata
(who may mount the head node's NFS exports)."""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from typing import Any

from corral.errors import CorralError
from corral.plan import ClusterPlan
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import aws_call

IMDS = "http://169.254.169.254/latest"


def _lustre(found: Mapping[str, Any]) -> dict[str, str]:
    return {
        "dns": str(found.get("DNSName", "")),
        "mount_name": str(found.get("LustreConfiguration", {}).get("MountName", "")),
    }


def _file_system(fsx: Any, fs_id: str) -> Mapping[str, Any]:
    found = aws_call("DescribeFileSystems", fsx.describe_file_systems, FileSystemIds=[fs_id])["FileSystems"]
    return dict(found[0]) if found else {}


def _volume(fsx: Any, volume_id: str) -> Mapping[str, Any]:
    found = aws_call("DescribeVolumes", fsx.describe_volumes, VolumeIds=[volume_id])["Volumes"]
    return dict(found[0]) if found else {}


def _ontap(fsx: Any, volume_id: str) -> dict[str, str]:
    volume = _volume(fsx, volume_id)
    ontap = volume.get("OntapConfiguration", {})
    svms = aws_call(
        "DescribeStorageVirtualMachines",
        fsx.describe_storage_virtual_machines,
        StorageVirtualMachineIds=[ontap.get("StorageVirtualMachineId", "")],
    )["StorageVirtualMachines"]
    dns = svms[0].get("Endpoints", {}).get("Nfs", {}).get("DNSName", "") if svms else ""
    return {"dns": str(dns), "path": str(ontap.get("JunctionPath", ""))}


def _openzfs(fsx: Any, volume_id: str) -> dict[str, str]:
    volume = _volume(fsx, volume_id)
    path = volume.get("OpenZFSConfiguration", {}).get("VolumePath", "")
    return {
        "dns": str(_file_system(fsx, str(volume.get("FileSystemId", ""))).get("DNSName", "")),
        "path": path,
    }


def _file_cache(fsx: Any, cache_id: str) -> dict[str, str]:
    found = aws_call("DescribeFileCaches", fsx.describe_file_caches, FileCacheIds=[cache_id])["FileCaches"]
    return _lustre(found[0]) if found else {}


def storage_details(
    clients: AwsClients, plan: ClusterPlan, ids: Mapping[str, str]
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """storage name -> its DNS name and mount name or path, for FSx and File Cache entries; and
    why any could not be read (the node's log says so, and the storage stays unmounted)."""
    details: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    fsx = None
    for storage in plan.storage:
        if storage.storage_type not in ("FsxLustre", "FsxOntap", "FsxOpenZfs", "FileCache"):
            continue
        found_id = ids.get(storage.name) or storage.existing_id
        if not found_id:
            continue
        fsx = fsx or clients.client("fsx")
        try:
            if storage.storage_type == "FsxLustre":
                details[storage.name] = _lustre(_file_system(fsx, found_id))
            elif storage.storage_type == "FsxOntap":
                details[storage.name] = _ontap(fsx, found_id)
            elif storage.storage_type == "FsxOpenZfs":
                details[storage.name] = _openzfs(fsx, found_id)
            else:
                details[storage.name] = _file_cache(fsx, found_id)
        except CorralError as exc:
            problems.append(f"{storage.name} ({found_id}): {exc}")
    return details, problems


def vpc_cidrs(timeout_s: float = 5.0) -> tuple[str, ...]:
    """The CIDR blocks of this instance's VPC, from IMDSv2 (empty when there is no IMDS)."""

    def get(path: str, token: str) -> str:
        request = urllib.request.Request(
            f"{IMDS}/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token}
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return str(response.read().decode())

    try:
        put = urllib.request.Request(
            f"{IMDS}/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        )
        with urllib.request.urlopen(put, timeout=timeout_s) as response:
            token = response.read().decode()
        mac = get("mac", token).strip()
        blocks = get(f"network/interfaces/macs/{mac}/vpc-ipv4-cidr-blocks", token)
    except OSError:
        return ()
    return tuple(line.strip() for line in blocks.splitlines() if line.strip())


__all__ = ["storage_details", "vpc_cidrs"]
