"""Corpus verdicts: Corral against ParallelCluster 3.16.1's own validators, file by file.

Run from the repository root:  .venv/bin/python bench/pcluster_verdicts.py

For every config of ../shared/corpus/cluster-configs it compares three things:
  - pcluster's verdict: aws-parallelcluster 3.16.1, in its own venv (bench/.work/pcluster-venv,
    created on first use with aws-parallelcluster==3.16.1 and moto; or $CORRAL_PCLUSTER_VENV),
    loading the file with its schema and running its validators offline (bench/pcluster/verdicts.py:
    EC2 facts from moto's in-process mock, the validators that need real cloud resources suppressed
    by type, as --suppress-validators type:NAME does);
  - Corral's verdict on the local provider and on AWS (check_cluster_config, target local / aws);
  - the pins of tests/support/corpus_rejections.json (what the unit test enforces).
It prints one line per file any of them rejects and exits 1 when they disagree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "cluster-configs"
PINS = ROOT / "tests" / "support" / "corpus_rejections.json"
WORKER = ROOT / "bench" / "pcluster" / "verdicts.py"
VENV = Path(os.environ.get("CORRAL_PCLUSTER_VENV", ROOT / "bench" / ".work" / "pcluster-venv"))
PCLUSTER = "aws-parallelcluster==3.16.1"
#: Corral checks these offline in part only (URL form, AMI architecture named in an ARN); pcluster
#: needs the object, the bucket or the AMI, which do not exist offline.
PARTLY_CLOUD = ("UrlValidator", "S3BucketUriValidator", "InstanceTypeBaseAMICompatibleValidator")
#: pcluster stops validating when the head node's instance type does not exist in the region.
UNKNOWN_TYPE = "The following supplied instance types do not exist"


def pcluster_python() -> Path:
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import pcluster, moto"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    print(f"creating {VENV} ({PCLUSTER} and moto) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", PCLUSTER, "moto"], check=True)
    return python


def pcluster_verdicts(files: list[Path]) -> dict[str, set[str]]:
    from corral.config.validators import AWS_ONLY_VALIDATORS

    suppressed = json.dumps(sorted({*AWS_ONLY_VALIDATORS, *PARTLY_CLOUD}))
    done = subprocess.run(
        [str(pcluster_python()), str(WORKER), *map(str, files)],
        input=suppressed,
        capture_output=True,
        text=True,
        check=True,
    )
    verdicts: dict[str, set[str]] = {}
    for name, result in json.loads(done.stdout).items():
        crash = result.get("crash", "")
        if crash:
            verdicts[name] = {"InstanceTypeValidator"} if UNKNOWN_TYPE in crash else {f"CRASH {crash}"}
        else:
            verdicts[name] = set(result["errors"])
    return verdicts


def corral_verdict(path: Path, target: str) -> set[str]:
    from corral.config.check import check_cluster_config
    from corral.config.findings import Level

    report = check_cluster_config(path, cluster_name="corpus-cluster", target=target)
    return {f.code for f in report.at_least(Level.ERROR)}


def agrees(pcluster: set[str], corral: set[str]) -> bool:
    """The same codes; or, where pcluster stopped at an unknown head node type, Corral names that
    type too (and goes on to report the rest, as pcluster would once the type is fixed)."""
    if pcluster == {"InstanceTypeValidator"}:
        return "InstanceTypeValidator" in corral
    return pcluster == corral


def main() -> int:
    if not CORPUS.is_dir():
        print(f"{CORPUS} is absent: nothing to compare")
        return 1
    files = sorted(CORPUS.glob("*.yaml"))
    pins = {name: set(codes) for name, codes in json.loads(PINS.read_text())["rejections"].items()}
    theirs = pcluster_verdicts(files)
    disagreements = exact = 0
    for path in files:
        name = path.name
        pc, local, aws, pin = (
            theirs[name],
            corral_verdict(path, "local"),
            corral_verdict(path, "aws"),
            pins.get(name, set()),
        )
        if not (pc or local or aws or pin):
            continue
        ok = agrees(pc, local) and local == aws == pin
        exact += ok and pc == local
        disagreements += not ok
        print(f"{'ok ' if ok else 'BAD'} {name}")
        print(f"    pcluster={sorted(pc)} local={sorted(local)} aws={sorted(aws)} pinned={sorted(pin)}")
    rejected = sum(1 for name in theirs if theirs[name])
    print(
        f"\n{len(files)} corpus files; pcluster rejects {rejected}, Corral rejects "
        f"{sum(1 for p in files if p.name in pins)} (pinned); identical ERROR codes on {exact}; "
        f"disagreements: {disagreements}"
    )
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
