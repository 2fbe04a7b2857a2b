"""``corral build-image`` of a config with three small components, from a moto S3 server on loopback.

    .venv/bin/python bench/bench_build_image.py              # 3 runs
    .venv/bin/python bench/bench_build_image.py --runs 5

The components: tools (CreateFile + ExecuteBash, with a validate and a test step), a container
runtime (runc from its Debian package, staged in S3 with ``apt-get download``, installed with
``dpkg -i``, tested with ``runc --version``) and a configure script. Per run: the time until the CLI
returns (BUILD_IN_PROGRESS), the time until BUILD_COMPLETE (build node, capture, test node), the
image's own layer on disk and the whole image (its layer plus the official image it stacks on).
Root only; every image is deleted at the end (and checked gone).
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

TOOLS = """\
name: Tools
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Install
        action: CreateFile
        inputs:
          - path: /usr/local/bin/labtool
            permissions: "0755"
            content: "#!/bin/sh\\necho labtool 1.0\\n"
      - name: Record
        action: ExecuteBash
        inputs:
          commands: ["echo tools > /etc/lab-tools"]
  - name: validate
    steps:
      - name: Runs
        action: ExecuteBash
        inputs:
          commands: ["labtool"]
  - name: test
    steps:
      - name: Version
        action: ExecuteBash
        inputs:
          commands: ["labtool | grep -q 1.0"]
"""
RUNTIME = """\
name: Runtime
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Stage
        action: S3Download
        inputs:
          - source: s3://bench-components/{deb}
            destination: /var/tmp/debs/
      - name: Install
        action: ExecuteBash
        inputs:
          commands: ["dpkg -i /var/tmp/debs/*.deb", "rm -rf /var/tmp/debs"]
  - name: test
    steps:
      - name: Works
        action: ExecuteBash
        inputs:
          commands: ["runc --version"]
"""
CONFIGURE = "#!/bin/sh\nset -e\nmkdir -p /etc/lab\necho registry=lab.example > /etc/lab/runtime.conf\n"


def du_kb(*paths: Path) -> int:
    out = subprocess.run(["du", "-skc", *map(str, paths)], capture_output=True, text=True, check=False).stdout
    return int(out.splitlines()[-1].split()[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import boto3
    from moto import server as moto_server

    from corral.providers.local import LocalProvider, images

    official = images.ensure_official()
    work = Path(tempfile.mkdtemp(prefix="bench-build-image-"))
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        CORRAL_STATE_DIR=str(work / "state"),
    )
    subprocess.run(["apt-get", "download", "runc"], cwd=work, check=True, capture_output=True)
    deb = next(work.glob("runc_*.deb"))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bench-components")
    s3.put_object(Bucket="bench-components", Key="tools.yaml", Body=TOOLS.encode())
    s3.put_object(
        Bucket="bench-components", Key="runtime.yaml", Body=RUNTIME.replace("{deb}", deb.name).encode()
    )
    s3.put_object(Bucket="bench-components", Key="configure.sh", Body=CONFIGURE.encode())
    s3.put_object(Bucket="bench-components", Key=deb.name, Body=deb.read_bytes())
    config = work / "image.yaml"
    config.write_text(
        f"Build:\n  InstanceType: c5.xlarge\n  ParentImage: {official.ami_id}\n  Components:\n"
        + "".join(
            f"    - Type: script\n      Value: s3://bench-components/{k}\n"
            for k in ("tools.yaml", "runtime.yaml", "configure.sh")
        )
    )
    provider = LocalProvider(work / "state")
    requests, totals, layers, wholes = [], [], [], []
    corral = [sys.executable, "-m", "corral.cli.main"]
    for run in range(args.runs):
        image_id = f"bench-{run}"
        started = time.monotonic()
        subprocess.run(
            [*corral, "build-image", "-c", str(config), "-i", image_id], check=True, capture_output=True
        )
        requests.append(time.monotonic() - started)
        while (doc := provider.describe_image(image_id, region=None))[
            "imageBuildStatus"
        ] == "BUILD_IN_PROGRESS":
            time.sleep(0.05)
        totals.append(time.monotonic() - started)
        if doc["imageBuildStatus"] != "BUILD_COMPLETE":
            print(json.dumps(doc, indent=1))
            return 1
        resolved = images.resolve_image(doc["ec2AmiInfo"]["amiId"], work / "state")
        layers.append(du_kb(resolved.layers[0]))
        wholes.append(du_kb(*resolved.layers))
        print(
            f"run {run}: request {requests[-1]:.2f} s, BUILD_COMPLETE after {totals[-1]:.2f} s, "
            f"layer {layers[-1]} KB, whole image {wholes[-1]} KB",
            flush=True,
        )
    for run in range(args.runs):
        subprocess.run([*corral, "delete-image", "-i", f"bench-{run}"], check=True, capture_output=True)
    left = list((work / "state" / "images").iterdir())
    server.stop()
    print(
        f"median: request {statistics.median(requests):.2f} s, build-image -> BUILD_COMPLETE "
        f"{statistics.median(totals):.2f} s (min {min(totals):.2f}, max {max(totals):.2f}), "
        f"own layer {statistics.median(layers)} KB, whole image {statistics.median(wholes)} KB; "
        f"left after delete-image: {left or 'nothing'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
