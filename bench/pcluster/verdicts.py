"""Run inside a venv holding aws-parallelcluster 3.16.1 (see bench/pcluster_verdicts.py): print,
as JSON, pcluster's own verdict on each config file given on the command line.

Offline: EC2's answers (instance types and their EFA/CPU/memory facts) come from moto's in-process
mock; the validators that need real cloud resources (subnets, key pairs, AMIs, IAM, ...) are
suppressed by type, listed on stdin as JSON, exactly as ``--suppress-validators type:NAME`` does.
"""

from __future__ import annotations

import json
import logging
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(name, "testing")
os.environ.pop("AWS_ENDPOINT_URL", None)
logging.disable(logging.CRITICAL)

import yaml  # noqa: E402
from marshmallow import ValidationError  # noqa: E402
from moto import mock_aws  # noqa: E402
from pcluster.aws.aws_resources import CapacityReservationInfo, FsxStorageInfo, ImageInfo  # noqa: E402
from pcluster.aws.ec2 import Ec2Client  # noqa: E402
from pcluster.aws.fsx import FSxClient  # noqa: E402
from pcluster.config.common import TypeMatchValidatorsSuppressor, ValidatorContext  # noqa: E402
from pcluster.schemas.cluster_schema import ClusterSchema  # noqa: E402

_ZONES: dict[str, str] = {}


def _zone_of(_self: object, subnet_id: str) -> str:
    """Each subnet in its own availability zone (moto cannot hold the corpus' subnet ids): several
    subnets in a queue count as multi-AZ, as Corral assumes offline."""
    return _ZONES.setdefault(subnet_id, "us-east-1" + "abcdef"[len(_ZONES) % 6])


def _image(_self: object, ami_id: str) -> ImageInfo:
    """A custom or official AMI (moto knows neither): x86_64, a 35 GiB root volume, as the official
    images; the validators that read an AMI's real facts are suppressed."""
    return ImageInfo(
        {
            "ImageId": ami_id,
            "Architecture": "x86_64",
            "RootDeviceName": "/dev/xvda",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 35}}],
            "Tags": [],
        }
    )


Ec2Client.get_subnet_avail_zone = _zone_of  # type: ignore[method-assign]
Ec2Client.describe_image = _image  # type: ignore[method-assign]
Ec2Client.get_official_image_id = lambda _self, *_a, **_k: "ami-0a0b0c0d0e0f01234"  # type: ignore[method-assign]
Ec2Client.describe_capacity_reservations = lambda _self, ids: [  # type: ignore[method-assign]
    CapacityReservationInfo(
        {
            "CapacityReservationId": i,
            "InstanceType": "c5.xlarge",
            "AvailabilityZone": "us-east-1a",
            "TotalInstanceCount": 10,
            "State": "active",
            "ReservationType": "default",
        }
    )
    for i in ids
]
Ec2Client.describe_placement_group = lambda _self, name: {  # type: ignore[method-assign]
    "PlacementGroups": [{"GroupName": name, "Strategy": "cluster", "State": "available"}]
}
Ec2Client.describe_subnets = lambda _self, ids: [  # type: ignore[method-assign]
    {
        "SubnetId": i,
        "VpcId": "vpc-0a0b0c0d",
        "AvailabilityZone": _zone_of(None, i),
        "MapPublicIpOnLaunch": False,
    }
    for i in ids
]
FSxClient.get_file_systems_info = lambda _self, ids: [  # type: ignore[method-assign]
    FsxStorageInfo(
        {
            "FileSystemId": i,
            "FileSystemType": "LUSTRE",
            "SubnetIds": ["subnet-0f0f0f0f"],
            "DNSName": f"{i}.fsx.us-east-1.amazonaws.com",
            "LustreConfiguration": {"MountName": "abcdef"},
        }
    )
    for i in ids
]
FSxClient.describe_volumes = lambda _self, ids: [  # type: ignore[method-assign]
    {
        "VolumeId": i,
        "FileSystemId": "fs-0123456789abcdef0",
        "OpenZFSConfiguration": {"VolumePath": "/fsx"},
        "OntapConfiguration": {"JunctionPath": "/vol1"},
    }
    for i in ids
]


def verdict(path: str, suppressed: set[str]) -> dict[str, object]:
    with open(path) as handle:
        data = yaml.safe_load(handle)
    try:
        config = ClusterSchema(cluster_name="corpus-cluster").load(data)
    except ValidationError as exc:
        return {
            "schema": str(exc.messages)[:300],
            "errors": {"ConfigSchemaValidator": [str(exc.messages)[:300]]},
        }
    failures = config.validate([TypeMatchValidatorsSuppressor(suppressed)], ValidatorContext())
    errors: dict[str, list[str]] = {}
    warnings: dict[str, list[str]] = {}
    for failure in failures:
        target = (
            errors if failure.level.name == "ERROR" else warnings if failure.level.name == "WARNING" else None
        )
        if target is not None:
            target.setdefault(failure.validator_type, []).append(failure.message[:300])
    return {"errors": errors, "warnings": warnings}


def main() -> None:
    suppressed = set(json.load(sys.stdin))
    results: dict[str, object] = {}
    with mock_aws():
        for path in sys.argv[1:]:
            try:
                results[os.path.basename(path)] = verdict(path, suppressed)
            except Exception as exc:  # a crash inside pcluster itself: reported, not fatal
                results[os.path.basename(path)] = {"crash": f"{type(exc).__name__}: {exc}"[:300]}
    json.dump(results, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
