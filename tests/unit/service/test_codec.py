from __future__ import annotations

import json

from corral.service import plan_from_json, plan_to_json

from .plans import small_plan


def test_plan_round_trips_through_json() -> None:
    plan = small_plan(static=2, dynamic=3)
    text = plan_to_json(plan)
    json.loads(text)  # plain JSON
    back = plan_from_json(text)
    assert back == plan
    assert back.nodes[0].kind is plan.nodes[0].kind
    assert isinstance(back.nodes, tuple)
    assert back.slurm.custom_settings == (("MaxJobCount", "1000"),)
