"""The provider-neutral SuspendProgram, against the fake provider (persisted under the state dir)."""

from __future__ import annotations

from pathlib import Path

from corral.daemons import suspend
from corral.providers import get_provider
from support.plans import engine_plan as small_plan


def test_suspend_terminates_the_hostlist_through_the_named_provider(tmp_path: Path) -> None:
    provider = get_provider("fake", tmp_path)
    provider.create(small_plan("sus"), on_event=lambda *_: None)
    provider.launch("sus", ["q1-dy-cr1-1", "q2-dy-cr2-1"])
    env = {"CORRAL_STATE_DIR": str(tmp_path), "CORRAL_CLUSTER_NAME": "sus", "CORRAL_PROVIDER": "fake"}

    assert suspend.main(["q1-dy-cr1-1"], env) == 0

    left = {i.node_name for i in get_provider("fake", tmp_path).instances("sus") if i.node_name}
    assert "q1-dy-cr1-1" not in left and "q2-dy-cr2-1" in left


def test_suspend_without_its_wrapper_environment_refuses() -> None:
    assert suspend.main(["q1-dy-cr1-1"], {}) == 2
