"""Fill an S3 endpoint with what examples/lab/cluster.yaml reads: the bootstrap scripts and a few
"container images". Uses AWS_ENDPOINT_URL (a local moto server in the README walkthrough).

    python examples/lab/seed.py            # creates lab-bootstrap, lab-images, lab-results
"""

from __future__ import annotations

from pathlib import Path

import boto3

HERE = Path(__file__).parent
BUCKETS = ("lab-bootstrap", "lab-images", "lab-results")
HEAD_SCRIPTS = (
    "01-create-users.sh",
    "02-tune-slurm.sh",
    "03-setup-sshd.sh",
    "04-start-services.sh",
    "05-report.sh",
)
IMAGES = {"containers/pytorch-2.4.sif": b"pytorch image\n", "containers/tools/samtools.sif": b"samtools\n"}


def seed(client: object) -> None:
    """Create the buckets and upload the scripts and images (idempotent)."""
    existing = {b["Name"] for b in client.list_buckets()["Buckets"]}  # type: ignore[attr-defined]
    for bucket in BUCKETS:
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    for name in HEAD_SCRIPTS:
        body = (HERE / "scripts" / name).read_bytes()
        client.put_object(Bucket="lab-bootstrap", Key=f"head/{name}", Body=body)  # type: ignore[attr-defined]
    body = (HERE / "scripts" / "node-ready.sh").read_bytes()
    client.put_object(Bucket="lab-bootstrap", Key="compute/node-ready.sh", Body=body)  # type: ignore[attr-defined]
    for key, data in IMAGES.items():
        client.put_object(Bucket="lab-images", Key=key, Body=data)  # type: ignore[attr-defined]


if __name__ == "__main__":
    seed(boto3.client("s3"))
    print("seeded:", ", ".join(BUCKETS))
