"""Golden files of the AWS templates: a small cluster and the limit config (50 queues).

On a mismatch, look at the diff; if the change is intended, regenerate with
``CORRAL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/providers/aws/test_template_golden.py``
and commit the files under ``tests/unit/providers/aws/golden/``.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from corral.config import load_cluster_config
from corral.plan import build_plan
from corral.providers.aws.template import build_templates
from support import golden

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parents[4]
CASES = {
    "small": (GOLDEN / "small.yaml", "golden-small"),
    "limit": (ROOT / "bench" / "configs" / "limit-50q-50cr.yaml", "golden-limit"),
}


def _pretty(body: dict[str, object]) -> str:
    return json.dumps(body, sort_keys=True, indent=1) + "\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_templates_match_golden_files(case: str) -> None:
    path, name = CASES[case]
    templates = build_templates(build_plan(load_cluster_config(path).config, cluster_name=name))
    rendered = {"main": _pretty(templates.main)} | {k: _pretty(v) for k, v in templates.nested.items()}
    if golden.updating():
        for old in GOLDEN.glob(f"{case}.*.json"):
            old.unlink()
        for part, text in rendered.items():
            (GOLDEN / f"{case}.{part}.json").write_text(text)
    expected = {p.name.split(".")[1]: p.read_text() for p in GOLDEN.glob(f"{case}.*.json")}
    assert set(rendered) == set(expected), (
        f"templates {sorted(rendered)} but golden files {sorted(expected)}; " + golden.hint()
    )
    for part, text in rendered.items():
        if text != expected[part]:
            diff = "".join(
                list(
                    difflib.unified_diff(
                        expected[part].splitlines(True), text.splitlines(True), "golden", "now"
                    )
                )[:80]
            )
            pytest.fail(
                f"{case}.{part}.json differs from the golden file (first lines of the diff below). If the "
                f"change is intended, regenerate: CORRAL_UPDATE_GOLDEN=1 .venv/bin/pytest {__file__}\n{diff}"
            )
