"""Generate Corral's offline EC2 instance-type catalog.

Source: moto's ``moto/ec2/resources/instance_types.json.gz`` (DescribeInstanceTypes-shaped, shipped
on PyPI with ``moto``). Output: ``src/corral/config/data/instance_types.json``, a compact table:
``{"source": ..., "fields": [...], "types": {name: [value, ...]}}`` with one row per type.

Usage: ``.venv/bin/python scripts/gen_catalog.py [--prices FILE.json]``. ``--prices`` takes an
optional ``{"m5.large": 0.096, ...}`` map of on-demand USD/hour (us-east-1); without it the price
column stays null, because no PyPI package we use ships EC2 prices.
"""

from __future__ import annotations

import argparse
import gzip
import json
from importlib import metadata, resources
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "src" / "corral" / "config" / "data" / "instance_types.json"

FIELDS = (
    "vcpus",
    "cores",
    "threads_per_core",
    "memory_mib",
    "architectures",
    "gpu_count",
    "gpu_manufacturer",
    "gpu_name",
    "gpu_memory_mib",
    "accelerator_count",
    "accelerator_manufacturer",
    "efa_supported",
    "max_efa_interfaces",
    "network_cards",
    "max_network_interfaces",
    "placement_strategies",
    "usage_classes",
    "bare_metal",
    "instance_storage_gb",
    "on_demand_usd_per_hour",
)


def _gpu(raw: dict[str, Any]) -> tuple[int, str | None, str | None, int]:
    gpus = raw.get("GpuInfo", {}).get("Gpus", [])
    if not gpus:
        return 0, None, None, 0
    count = sum(int(g.get("Count", 0)) for g in gpus)
    memory = int(raw["GpuInfo"].get("TotalGpuMemoryInMiB", 0))
    return count, gpus[0].get("Manufacturer"), gpus[0].get("Name"), memory


def _accelerators(raw: dict[str, Any]) -> tuple[int, str | None]:
    # Inferentia/Trainium (NeuronInfo), older Inferentia (InferenceAcceleratorInfo), FPGAs.
    for key, list_key in (
        ("NeuronInfo", "NeuronDevices"),
        ("InferenceAcceleratorInfo", "Accelerators"),
        ("FpgaInfo", "Fpgas"),
    ):
        devices = raw.get(key, {}).get(list_key, [])
        if devices:
            count = sum(int(d.get("Count", 0)) for d in devices)
            maker = devices[0].get("Manufacturer") or ("AWS" if key != "FpgaInfo" else None)
            return count, maker
    return 0, None


def row(raw: dict[str, Any], price: float | None) -> list[Any]:
    """One catalog row, in FIELDS order."""
    vcpu = raw["VCpuInfo"]
    net = raw.get("NetworkInfo", {})
    gpu_count, gpu_maker, gpu_name, gpu_memory = _gpu(raw)
    acc_count, acc_maker = _accelerators(raw)
    vcpus = int(vcpu["DefaultVCpus"])
    threads = int(vcpu.get("DefaultThreadsPerCore", 1))
    return [
        vcpus,
        int(vcpu.get("DefaultCores", vcpus // threads)),
        threads,
        int(raw["MemoryInfo"]["SizeInMiB"]),
        sorted(raw["ProcessorInfo"]["SupportedArchitectures"]),
        gpu_count,
        gpu_maker,
        gpu_name,
        gpu_memory,
        acc_count,
        acc_maker,
        bool(net.get("EfaSupported", False)),
        int(net.get("EfaInfo", {}).get("MaximumEfaInterfaces", 0)),
        int(net.get("MaximumNetworkCards", 1)),
        int(net.get("MaximumNetworkInterfaces", 1)),
        sorted(raw.get("PlacementGroupInfo", {}).get("SupportedStrategies", [])),
        sorted(raw.get("SupportedUsageClasses", [])),
        bool(raw.get("BareMetal", False)),
        int(raw.get("InstanceStorageInfo", {}).get("TotalSizeInGB", 0)),
        price,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prices", type=Path, help="JSON map instance type -> on-demand USD/hour")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    prices: dict[str, float] = json.loads(args.prices.read_text()) if args.prices else {}
    source = resources.files("moto") / "ec2" / "resources" / "instance_types.json.gz"
    raw_types: dict[str, dict[str, Any]] = json.loads(gzip.decompress(source.read_bytes()))
    table = {
        "source": f"moto {metadata.version('moto')} ec2/resources/instance_types.json.gz",
        "fields": list(FIELDS),
        "types": {name: row(raw_types[name], prices.get(name)) for name in sorted(raw_types)},
    }
    args.out.write_text(json.dumps(table, separators=(",", ":")) + "\n")
    print(f"wrote {len(table['types'])} instance types to {args.out}")


if __name__ == "__main__":
    main()
