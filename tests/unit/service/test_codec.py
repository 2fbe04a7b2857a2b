from __future__ import annotations

import json

from corral.service import plan_from_json, plan_to_json
from support.corpus import needs_corpus
from support.plans import small_plan


def test_plan_round_trips_through_json() -> None:
    plan = small_plan(static=2, dynamic=3)
    text = plan_to_json(plan)
    json.loads(text)  # plain JSON
    back = plan_from_json(text)
    assert back == plan
    assert back.nodes[0].kind is plan.nodes[0].kind
    assert isinstance(back.nodes, tuple)
    assert back.slurm.custom_settings == (("MaxJobCount", "1000"),)


@needs_corpus
def test_the_config_travels_with_the_plan_for_every_corpus_file() -> None:
    """A background worker's plan carries the same ClusterConfig (the AWS provider reads it)."""
    from corral.config import load_cluster_config
    from corral.plan import build_plan
    from support.corpus import CLUSTER_FILES

    checked = 0
    for path in CLUSTER_FILES:
        config = load_cluster_config(path).config
        if config is None:
            continue
        plan = build_plan(config, cluster_name="rt")
        assert plan_from_json(plan_to_json(plan)).config == config, path.name
        checked += 1
    assert checked >= 100
