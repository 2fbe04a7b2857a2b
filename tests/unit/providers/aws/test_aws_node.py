"""The node side of an AWS cluster, offline: the package imports lazily, the user data's files, and
the bootstrap spec the node program builds for the head and compute nodes."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_template_package_loads_no_aws_sdk() -> None:
    code = (
        "import sys, corral.providers.aws.template, corral.providers.aws\n"
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))\n"
        "from corral.providers.aws import AwsProvider\n"
        "print('botocore' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "True"]
