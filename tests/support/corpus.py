"""The shared corpus (``../shared/corpus`` beside the repository) and how to render its image configs.

ParallelCluster's integration-test image configs are Jinja templates (``InstanceType: {{ instance }}``);
they load only once their placeholders are filled, as ParallelCluster's own tests do.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
CLUSTER_FILES = sorted((CORPUS / "cluster-configs").glob("*.yaml"))
IMAGE_FILES = sorted((CORPUS / "image-configs").glob("*.yaml"))

SHARED = CORPUS.parent
#: Skip marker for tests that read the corpus: they run wherever ../shared exists (CI has it).
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent (CI has ../shared)")
#: The same for tests that read anything else of ../shared (pcluster's schema trees, openapi.yaml).
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is absent (CI has ../shared)")


def skip_module_without_shared() -> None:
    """Call at the top of a test module that reads ../shared as it is imported."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (CI has ../shared)", allow_module_level=True)


#: The cluster corpus files ParallelCluster 3.16.1 itself rejects, with the validators that reject
#: them (checked against pcluster's own validators by bench/pcluster_verdicts.py); Corral must give
#: the same verdict on every provider. Every other file is accepted.
REJECTIONS_FILE = Path(__file__).resolve().parent / "corpus_rejections.json"
REJECTIONS: dict[str, frozenset[str]] = {
    name: frozenset(codes) for name, codes in json.loads(REJECTIONS_FILE.read_text())["rejections"].items()
}

#: Values for the placeholders of ParallelCluster's integration-test templates.
TEMPLATE_VALUES = {
    "instance": "c5.xlarge",
    "instance_type": "c5.xlarge",
    "parent_image": "ami-0123456789abcdef0",
    "bucket_name": "corral-test-bucket",
    "instance_role": "arn:aws:iam::123456789012:role/build",
    "instance_profile": "arn:aws:iam::123456789012:instance-profile/build",
    "lambda_cleanup_role": "arn:aws:iam::123456789012:role/cleanup",
    "cleanup_lambda_role": "arn:aws:iam::123456789012:role/cleanup",
    "private_subnet_id": "subnet-0123456789abcdef0",
    "default_vpc_security_group_id": "sg-0123456789abcdef0",
    "region": "us-east-1",
    "disable_sudo_access_for_default_user": "False",
}


def render_template(path: Path, **overrides: str) -> str:
    """The text of corpus file ``path`` with its placeholders filled (``overrides`` win)."""
    return jinja2.Template(path.read_text()).render(**{**TEMPLATE_VALUES, **overrides})


def render_to(path: Path, directory: Path, **overrides: str) -> Path:
    """Render ``path`` into ``directory`` under the same name; returns the new file."""
    out = directory / path.name
    out.write_text(render_template(path, **overrides))
    return out
