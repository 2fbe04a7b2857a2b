"""cfn-lint over the templates (root and nested) of every config in the shared corpus.

Every corpus config either renders to templates that cfn-lint (all rules, errors and warnings)
accepts, or is refused by ``build_templates`` with a CorralError naming the value AWS would reject:
those configs are listed in ``REFUSED`` with the reason.

Speed: cfn-lint costs about 25 ms per resource, and the corpus renders ~2,600 resources of which
only ~570 differ. So each template is linted reduced to the resources not linted before in this
process; a Ref or GetAtt of a resource left out becomes a Ref to a String parameter, so the reduced
template stays self-contained. A template whose resources are all new is linted whole.
The one rule relaxed for reduced templates is in ``IGNORED_IN_REDUCED``. The corpus is split in
``SHARDS`` parametrised cases so pytest-xdist spreads it over the cores.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.rules import Match
from cfnlint.runner import Runner

from corral.config import load_cluster_config
from corral.errors import ConfigError, CorralError
from corral.plan import build_plan
from corral.providers.aws.template import build_templates
from support.corpus import (
    CLUSTER_FILES,
    render_to,
    skip_module_without_shared,
)

skip_module_without_shared()

SHARDS = 4
#: Reduced templates drop resources that used some parameters; whole templates get every rule.
IGNORED_IN_REDUCED = {"W2001": "parameter not used (its users were linted in an earlier template)"}
#: Corpus configs that carry placeholder values AWS would refuse -> what the refusal must name.
REFUSED = {
    "integ__networking__test_security_groups__test_overwrite_sg__pcluster.config.yaml": (
        "name 'name0' is used 2"
    ),
    "integ__schedulers__test_custom_munge_key__test_custom_munge_key__pcluster.roll_back.config.yaml": (
        "MungeKeySecretArn: 'value0'"
    ),
    "integ__schedulers__test_custom_munge_key__test_custom_munge_key__pcluster.stop_login.config.yaml": (
        "MungeKeySecretArn: 'value0'"
    ),
    "integ__storage__test_ebs__test_ebs_single__pcluster.config.yaml": "KmsKeyId: 'value0'",
    "integ__update__test_update__test_dynamic_file_systems_update_rollback__"
    "pcluster.config.update_rollback.yaml": ("'vol-0123456789abcdef0' is named by 2"),
    "unit__templates__test_cdk_builder_utils__test_iam_resource_prefix_build_in_cdk__resourcePrefix."
    "both_path_n_role_prefix.yaml": "InstanceType: 'String'",
    "unit__templates__test_cdk_builder_utils__test_iam_resource_prefix_build_in_cdk__resourcePrefix."
    "only_path_prefix.yaml": "InstanceType: 'String'",
    "unit__templates__test_cdk_builder_utils__test_iam_resource_prefix_build_in_cdk__resourcePrefix."
    "only_role_prefix.yaml": "InstanceType: 'String'",
    "unit__templates__test_cluster_stack__test_no_security_groups_created_from_configuration_file__"
    "config.yaml": ("KmsKeyId: 'String'"),
    "unit__templates__test_directory_service__test_head_node_permissions__config-ssm.yaml": (
        "PasswordSecretArn: 'arn:aws:ssm:eu-west-1:123456789:"  # a 9-digit account id
    ),
    "unit__templates__test_directory_service__test_head_node_permissions__config.yaml": (
        "PasswordSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789:"
    ),
    "unit__templates__test_scheduling__test_head_node_custom_pass_role__config.yaml": (
        "InstanceRole: 'arn:aws:iam::123456789:role"
    ),
    "unit__templates__test_scheduling__test_head_node_mixed_pass_role__config.yaml": (
        "InstanceRole: 'arn:aws:iam::123456789:role"
    ),
    "unit__validators__test_all_validators__test_slurm_all_validators_are_called__slurm_2.yaml": (
        "'fs-12345678123456789' is named by 2"
    ),
}
_LINTED: set[tuple[str, str]] = set()
_RUNNER: list[Runner] = []


def _lint(text: str) -> list[Match]:
    """cfn-lint's matches for one template; the runner (its rules take ~1 s to load) is reused."""
    if not _RUNNER:
        _RUNNER.append(Runner(ConfigMixIn(regions=["us-east-1"])))
    template, errors = decode_str(text)
    if errors:
        return list(errors)
    return list(_RUNNER[0].validate_template(template))


def _stub(node: Any, resources: dict[str, Any], fresh: set[str], stubs: dict[str, Any]) -> Any:
    """``node`` with each Ref/GetAtt of a resource outside ``fresh`` replaced by a Ref to a String
    parameter (recorded in ``stubs``), so a reduced template stays self-contained."""
    if isinstance(node, list):
        return [_stub(item, resources, fresh, stubs) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        target = value if key == "Ref" else value[0] if key == "Fn::GetAtt" else None
        if isinstance(target, str) and target in resources and target not in fresh:
            name = "Stub" + re.sub("[^A-Za-z0-9]", "", target if key == "Ref" else "".join(value))
            stubs[name] = {"Type": "String"}
            return {"Ref": name}
    return {k: _stub(v, resources, fresh, stubs) for k, v in node.items()}


def _reduced(body: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """(the template to lint, or None when every resource was linted before; whether it was reduced)."""
    resources = body["Resources"]
    fresh = {k for k, v in resources.items() if (k, json.dumps(v, sort_keys=True)) not in _LINTED}
    if not fresh:
        return None, True
    if fresh == set(resources):
        return body, False
    stubs: dict[str, Any] = {}
    reduced = {
        **body,
        "Resources": {k: _stub(resources[k], resources, fresh, stubs) for k in sorted(fresh)},
        "Outputs": _stub(body.get("Outputs", {}), resources, fresh, stubs),
    }
    reduced["Parameters"] = {**body.get("Parameters", {}), **stubs}
    return reduced, True


def _lint_file(path: Path, tmp_path: Path) -> list[str]:
    """The problems of one corpus config: unexpected refusal, or cfn-lint matches."""
    try:
        config = load_cluster_config(render_to(path, tmp_path)).config
    except ConfigError:
        return []  # the config layer's own tests cover configs that do not load
    try:
        templates = build_templates(build_plan(config, cluster_name="corpus"))
    except CorralError as exc:
        expected = REFUSED.get(path.name)
        return [] if expected and expected in str(exc) else [f"{path.name}: refused: {exc}"]
    if path.name in REFUSED:
        return [f"{path.name}: rendered, but REFUSED expects a refusal"]
    problems = []
    for name in ["main", *templates.nested]:
        body = templates.main if name == "main" else templates.nested[name]
        target, reduced = _reduced(body)
        if target is None:
            continue
        for match in _lint(json.dumps(target, sort_keys=True)):
            if reduced and match.rule.id in IGNORED_IN_REDUCED:
                continue
            problems.append(f"{path.name} {name}: {match.rule.id} {match.message} at {list(match.path)}")
        _LINTED.update((k, json.dumps(v, sort_keys=True)) for k, v in body["Resources"].items())
    return problems


def test_corpus_is_large_enough_to_matter() -> None:
    assert len(CLUSTER_FILES) >= 100
    assert set(REFUSED) <= {p.name for p in CLUSTER_FILES}


#: Beyond the corpus: the golden small config and the limit config (50 queues).
EXTRA_FILES = [
    Path(__file__).parent / "golden" / "small.yaml",
    Path(__file__).resolve().parents[4] / "bench" / "configs" / "limit-50q-50cr.yaml",
]


def test_golden_and_limit_templates_pass_cfn_lint(tmp_path: Path) -> None:
    problems = [p for path in EXTRA_FILES for p in _lint_file(path, tmp_path)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_corpus_templates_pass_cfn_lint(shard: int, tmp_path: Path) -> None:
    problems = [p for path in CLUSTER_FILES[shard::SHARDS] for p in _lint_file(path, tmp_path)]
    assert not problems, "\n".join(problems)


def test_the_linter_catches_errors_in_whole_and_reduced_templates() -> None:
    """The lint setup can fail: a bad property is reported, in a reduced template too."""
    body: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "g"}},
            "Rule": {
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {
                    "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]},
                    "IpProtocol": "-1",
                    "SourceSecurityGroupId": {"Fn::GetAtt": ["Group", "GroupId"]},
                },
            },
        },
    }
    assert _lint(json.dumps(body)) == []
    _LINTED.update((k, json.dumps(v, sort_keys=True)) for k, v in body["Resources"].items())
    body["Resources"]["Rule"]["Properties"]["NoSuchProperty"] = 1
    reduced, was_reduced = _reduced(body)
    assert was_reduced and reduced is not None and set(reduced["Resources"]) == {"Rule"}
    rule_ids = {m.rule.id for m in _lint(json.dumps(reduced))}
    assert rule_ids == {"E3002"}
