# ruff: noqa: E501 - the embedded anchor script and report rows read better unwrapped
"""CloudFormation template generation: Corral (troposphere) vs the anchor (aws-parallelcluster 3.16.1, CDK).

Run from the repository root:  .venv/bin/python bench/bench_template.py [--runs N] [--no-anchor]

For the small config and the 50-queue / 50-compute-resource limit config it reports:
  - Corral's ``build_templates(plan)``: cold (first call in a fresh interpreter, including importing
    troposphere and the template package) and warm (median of N in-process calls), with the size
    (compact JSON, as uploaded) and resource count of the root and each nested template;
  - the anchor's ``CDKTemplateBuilder.build_cluster_template`` in its own venv, cold (first call:
    importing the CDK and starting its jsii Node.js process) and warm (median of the later calls),
    with the root and nested (queue stack) sizes, minified as it uploads them. The anchor's config
    calls AWS while it builds, so the script below replaces ``AWSApi.instance()`` with a mock
    returning plausible values (an official AMI id, c5.xlarge-like instance type info, one AZ) and
    the S3 bucket with a mock: nothing reaches AWS, the synth itself is real.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {
    "small": ROOT / "bench" / "configs" / "small.yaml",
    "limit-50q-50cr": ROOT / "bench" / "configs" / "limit-50q-50cr.yaml",
}
ANCHOR_PYTHON = Path("/opt/pcluster-anchor/bin/python")

_CORRAL_COLD = """
import json, sys, time
t = time.perf_counter()
from corral.config import load_cluster_config
from corral.plan import build_plan
plan = build_plan(load_cluster_config(sys.argv[1]).config, cluster_name="bench")
t_plan = time.perf_counter()
from corral.providers.aws.template import build_templates
templates = build_templates(plan)
print(json.dumps({"cold_s": time.perf_counter() - t_plan}))
"""

_ANCHOR = """
import json, sys, time
from unittest.mock import MagicMock, patch
import yaml
from pcluster.aws.aws_resources import ImageInfo, InstanceTypeInfo
from pcluster.schemas.cluster_schema import ClusterSchema
from pcluster.templates.cdk_builder import CDKTemplateBuilder

def instance_info(name):
    return InstanceTypeInfo({
        "InstanceType": name,
        "VCpuInfo": {"DefaultVCpus": 4, "DefaultCores": 2, "DefaultThreadsPerCore": 2, "ValidThreadsPerCore": [1, 2]},
        "MemoryInfo": {"SizeInMiB": 8192},
        "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
        "NetworkInfo": {"EfaSupported": False, "MaximumNetworkCards": 1, "MaximumNetworkInterfaces": 4,
                        "NetworkCards": [{"NetworkCardIndex": 0, "MaximumNetworkInterfaces": 4}]},
        "SupportedUsageClasses": ["on-demand", "spot"],
        "InstanceStorageSupported": False,
    })

def fake_api():
    api = MagicMock()
    api.ec2.get_official_image_id.return_value = "ami-0123456789abcdef0"
    api.ec2.get_instance_type_info.side_effect = instance_info
    api.ec2.get_subnet_avail_zone.return_value = "us-east-1a"
    api.ec2.get_subnets_az_mapping.side_effect = lambda ids: {i: "us-east-1a" for i in ids}
    api.ec2.get_subnet_vpc.return_value = "vpc-0123456789abcdef0"
    api.ec2.describe_image.return_value = ImageInfo({
        "ImageId": "ami-0123456789abcdef0", "Architecture": "x86_64", "RootDeviceName": "/dev/xvda",
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 40, "SnapshotId": "snap-0"}}],
        "Tags": [],
    })
    api.sts.get_account_id.return_value = "123456789012"
    return api

def bucket_of(name):
    bucket = MagicMock()
    bucket.name = bucket.bucket_name = "parallelcluster-bucket"
    bucket.get_object_key.return_value = "key"
    bucket.artifact_directory = f"parallelcluster/3.16.1/clusters/{name}-abc"
    bucket.get_resource_url.return_value = "https://parallelcluster-bucket.s3.amazonaws.com/key"
    bucket.partition, bucket.region = "aws", "us-east-1"
    return bucket

path, runs = sys.argv[1], int(sys.argv[2])
compact = {"separators": (",", ":")}
with patch("pcluster.aws.aws_api.AWSApi.instance", return_value=fake_api()):
    data = yaml.safe_load(open(path))
    times = []
    for _ in range(runs):
        config = ClusterSchema(cluster_name="bench").load(data)
        t = time.perf_counter()
        template, assets = CDKTemplateBuilder.build_cluster_template(config, bucket_of("bench"), "bench")
        times.append(time.perf_counter() - t)
print(json.dumps({
    "times": times,
    "root": [len(json.dumps(template, **compact)), len(template.get("Resources", {}))],
    "nested": [[len(json.dumps(a["content"], **compact)), len(a["content"].get("Resources", {}))] for a in assets or []],
}))
"""


def corral_row(path: Path, runs: int) -> dict[str, Any]:
    """Corral's cold and warm generation times and template sizes for one config."""
    from corral.config import load_cluster_config
    from corral.plan import build_plan
    from corral.providers.aws.template import build_templates

    cold = json.loads(
        subprocess.run(
            [sys.executable, "-c", _CORRAL_COLD, str(path)], check=True, capture_output=True, text=True
        ).stdout
    )
    plan = build_plan(load_cluster_config(path).config, cluster_name="bench")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        templates = build_templates(plan)
        times.append(time.perf_counter() - t)
    sizes = {
        name: (
            len(templates.to_json(name)),
            len((templates.main if name == "main" else templates.nested[name])["Resources"]),
        )
        for name in ["main", *templates.nested]
    }
    return {"cold_s": cold["cold_s"], "warm_s": statistics.median(times), "sizes": sizes}


def anchor_row(path: Path, runs: int) -> dict[str, Any] | None:
    """The anchor's CDK synth times and sizes, or None when its venv is missing or the synth fails."""
    if not ANCHOR_PYTHON.exists():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(_ANCHOR)
    try:
        env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
        done = subprocess.run(
            [str(ANCHOR_PYTHON), script.name, str(path), str(max(runs, 2))],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
    finally:
        os.unlink(script.name)
    if done.returncode != 0:
        print(f"anchor synth failed for {path.name}: {done.stderr[-600:]}", file=sys.stderr)
        return None
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "cold_s": found["times"][0],
        "warm_s": statistics.median(found["times"][1:]),
        "root": found["root"],
        "nested": found["nested"],
    }


def _kb(n: int) -> str:
    return f"{n / 1024:.0f} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-anchor", action="store_true", help="skip the anchor's CDK synth")
    args = parser.parse_args()
    print("| config | tool | cold | warm | root template | nested templates |")
    print("|---|---|---:|---:|---|---|")
    for label, path in CONFIGS.items():
        mine = corral_row(path, args.runs)
        sizes = mine["sizes"]
        root = sizes.pop("main")
        nested = ", ".join(f"{_kb(b)} / {r} res" for b, r in sizes.values())
        print(
            f"| {label} | Corral (troposphere) | {mine['cold_s'] * 1000:.0f} ms | {mine['warm_s'] * 1000:.1f} ms | {_kb(root[0])} / {root[1]} res | {nested} |"
        )
        theirs = None if args.no_anchor else anchor_row(path, 3)
        if theirs is None:
            print(
                f"| {label} | ParallelCluster 3.16.1 (CDK) | 2.3-2.9 s (from the issue, not re-measured) | | | 741 KB queue stack at 50 CRs (from the issue) |"
            )
            continue
        anchor_nested = ", ".join(f"{_kb(b)} / {r} res" for b, r in theirs["nested"])
        root_b, root_r = theirs["root"]
        print(
            f"| {label} | ParallelCluster 3.16.1 (CDK synth) | {theirs['cold_s']:.2f} s | {theirs['warm_s']:.2f} s | {_kb(root_b)} / {root_r} res | {anchor_nested} |"
        )


if __name__ == "__main__":
    main()
