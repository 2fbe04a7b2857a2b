"""Scaling strategies without Slurm: the pure decision, and the ResumeProgram driving the
in-memory FakeProvider with real capacity refusals and a recorded scheduler view (mark DOWN)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corral.daemons import resume
from corral.daemons.scaling import (
    LIMITED_CAPACITY_CODE,
    ResumeJob,
    ResumeRequest,
    ScalingStrategy,
    decide,
    failure_reason,
    is_insufficient_capacity,
    parse_resume_file,
    plan_launches,
    reason_code,
)
from corral.providers.base import InstanceState
from corral.providers.fake import FakeFailures, FakeProvider
from corral.runtime import heartbeat
from support.plans import plan

AON, GREEDY, BEST = (
    ScalingStrategy.ALL_OR_NOTHING,
    ScalingStrategy.GREEDY_ALL_OR_NOTHING,
    ScalingStrategy.BEST_EFFORT,
)
ICE = "InsufficientInstanceCapacity"

# What Slurm 22.05 writes (captured from slurmctld here, trimmed to the fields Corral reads).
RESUME_FILE = {
    "all_nodes_resume": "q1-dy-c1-[1-3],q2-dy-c2-1",
    "jobs": [
        {
            "extra": None,
            "features": None,
            "job_id": 7,
            "nodes_alloc": "q1-dy-c1-[1-2]",
            "nodes_resume": "q1-dy-c1-[1-2]",
            "oversubscribe": "NO",
            "partition": "q1",
            "reservation": None,
        },
        {
            "job_id": 8,
            "nodes_alloc": "q1-dy-c1-3,q1-st-c1-1",
            "nodes_resume": "q1-dy-c1-3",
            "oversubscribe": "OK",
        },
    ],
}


def test_parse_resume_file() -> None:
    request = parse_resume_file(json.dumps(RESUME_FILE))
    assert request.nodes == ("q1-dy-c1-1", "q1-dy-c1-2", "q1-dy-c1-3", "q2-dy-c2-1")
    assert request.jobs[0] == ResumeJob(7, ("q1-dy-c1-1", "q1-dy-c1-2"), ("q1-dy-c1-1", "q1-dy-c1-2"), "NO")
    assert request.jobs[1].nodes_resume == ("q1-dy-c1-3",)
    assert request.jobs[1].nodes_alloc == ("q1-dy-c1-3", "q1-st-c1-1")
    assert request.jobless() == ("q2-dy-c2-1",)
    with pytest.raises(ValueError):
        parse_resume_file('{"jobs": []}')


def test_parse_the_slurm_22_05_resume_file() -> None:
    """The shape slurmctld 22.05.8 wrote here (captured from a local cluster's resume.log)."""
    text = '{"jobs":[{"job_id":1,"nodes":"q1-dy-c1-[1-3]"}],"all_nodes":"q1-dy-c1-[1-3],q1-st-c1-1"}'
    request = parse_resume_file(text)
    assert request.nodes == ("q1-dy-c1-1", "q1-dy-c1-2", "q1-dy-c1-3", "q1-st-c1-1")
    assert request.jobs == (ResumeJob(1, request.nodes[:3], request.nodes[:3]),)
    assert request.jobless() == ("q1-st-c1-1",)


def test_hostlist_without_resume_file_is_one_job() -> None:
    request = ResumeRequest.from_hostlist(["a", "b", "a"])
    assert request.nodes == ("a", "b")
    assert request.jobs == (ResumeJob(0, ("a", "b"), ("a", "b")),)
    assert ResumeRequest.from_hostlist([]).jobs == ()


def test_reason_codes() -> None:
    assert failure_reason(ICE) == "(Code:InsufficientInstanceCapacity)Failure when resuming nodes"
    assert failure_reason("") == "Failure when resuming nodes"
    assert (
        reason_code("(Code:Unsupported)Failure when resuming nodes [root@2026-01-01T00:00:00]")
        == "Unsupported"
    )
    assert reason_code("Not responding") is None
    assert is_insufficient_capacity(failure_reason("MaxSpotInstanceCountExceeded"))
    assert not is_insufficient_capacity(failure_reason(LIMITED_CAPACITY_CODE))


def test_strategy_parse_defaults_to_all_or_nothing() -> None:
    assert ScalingStrategy.parse("greedy-all-or-nothing") is GREEDY
    assert ScalingStrategy.parse(" Best-Effort ") is BEST
    assert ScalingStrategy.parse(None) is AON
    assert ScalingStrategy.parse("bogus") is AON


TWO_JOBS = ResumeRequest(
    ("a1", "a2", "b1", "b2", "s1"),
    (ResumeJob(1, ("a1", "a2")), ResumeJob(2, ("b1", "b2"))),
)


def test_plan_launches_per_strategy() -> None:
    aon = plan_launches(TWO_JOBS, AON)
    assert [(s.nodes, s.all_or_nothing, s.job_id) for s in aon] == [
        (("a1", "a2"), True, 1),
        (("b1", "b2"), True, 2),
        (("s1",), False, None),
    ]
    for strategy in (GREEDY, BEST):
        (step,) = plan_launches(TWO_JOBS, strategy)
        assert step.nodes == ("a1", "a2", "b1", "b2", "s1") and not step.all_or_nothing


def test_a_node_shared_by_two_jobs_is_launched_once() -> None:
    shared = ResumeRequest(("n1", "n2"), (ResumeJob(1, ("n1", "n2")), ResumeJob(2, ("n2",))))
    assert [s.nodes for s in plan_launches(shared, AON)] == [("n1", "n2")]


def test_all_or_nothing_keeps_whole_jobs_only() -> None:
    # job 2 got one node of two (a launch that is not all-or-nothing, e.g. a provider fallback)
    decision = decide(TWO_JOBS, AON, ["a1", "a2", "b1", "s1"], {"b2": ICE})
    assert decision.keep == ("a1", "a2", "s1")
    assert decision.terminate == ("b1",)
    assert dict(decision.down) == {"b2": failure_reason(ICE), "b1": failure_reason(LIMITED_CAPACITY_CODE)}
    assert decision.failed_jobs == (2,)


def test_greedy_discards_the_partial_job_but_keeps_nodes_a_complete_job_needs() -> None:
    shared = ResumeRequest(("n1", "n2", "n3"), (ResumeJob(1, ("n1", "n2")), ResumeJob(2, ("n2", "n3"))))
    decision = decide(shared, GREEDY, ["n1", "n2"], {"n3": ICE})
    assert decision.keep == ("n1", "n2")  # n2 serves job 1, which is complete
    assert decision.terminate == ()
    assert decision.down_by_reason() == {failure_reason(ICE): ["n3"]}
    assert decision.failed_jobs == (2,)


def test_best_effort_keeps_whatever_launched() -> None:
    decision = decide(TWO_JOBS, BEST, ["a1", "b1"], {"a2": ICE, "b2": ICE, "s1": ""})
    assert decision.keep == ("a1", "b1")
    assert decision.terminate == ()
    assert decision.down_by_reason() == {failure_reason(ICE): ["a2", "b2"], failure_reason(""): ["s1"]}


def test_a_node_reported_neither_way_counts_as_failed() -> None:
    decision = decide(TWO_JOBS, AON, ["a1", "a2", "b1", "b2"], {})
    assert decision.down == (("s1", failure_reason("")),)


# -- the ResumeProgram against the fake provider -----------------------------------------------


class SchedulerView:
    """What the ResumeProgram tells Slurm: the nodes it marks DOWN, with their reason."""

    def __init__(self) -> None:
        self.down: dict[str, str] = {}

    def mark_down(self, nodes: Sequence[str], reason: str) -> None:
        for node in nodes:
            self.down[node] = reason


def fake_cluster(capacity: tuple[tuple[str, int], ...], **failures: object) -> FakeProvider:
    provider = FakeProvider(FakeFailures(capacity=capacity, **failures))  # type: ignore[arg-type]
    provider.create(plan("scale", (("q1", "c1", 0, 6),)), on_event=lambda _r, _m: None)
    return provider


def running(provider: FakeProvider) -> set[str]:
    return {
        i.node_name for i in provider.instances("scale") if i.node_name and i.state is InstanceState.RUNNING
    }


JOBS = ResumeRequest(
    ("q1-dy-c1-1", "q1-dy-c1-2", "q1-dy-c1-3", "q1-dy-c1-4", "q1-dy-c1-5"),
    (
        ResumeJob(1, ("q1-dy-c1-1", "q1-dy-c1-2")),
        ResumeJob(2, ("q1-dy-c1-3", "q1-dy-c1-4", "q1-dy-c1-5")),
    ),
)


def run(strategy: ScalingStrategy, provider: FakeProvider) -> tuple[SchedulerView, list[str]]:
    view, lines = SchedulerView(), list[str]()
    resume.resume(provider, "scale", JOBS, strategy, mark_down=view.mark_down, log=lines.append)
    return view, lines


def test_all_or_nothing_with_capacity_for_one_job() -> None:
    """Capacity 3: job 1 (2 nodes) starts; job 2 (3 nodes) would need 5: none of it starts."""
    provider = fake_cluster((("c5.large", 3),))
    view, lines = run(AON, provider)
    assert running(provider) == {"q1-dy-c1-1", "q1-dy-c1-2"}
    assert set(view.down) == {"q1-dy-c1-3", "q1-dy-c1-4", "q1-dy-c1-5"}
    assert set(view.down.values()) == {failure_reason(ICE)}
    assert any("job 2: all-or-nothing launch" in line and "0 up, 3 failed" in line for line in lines)


def test_greedy_launches_then_terminates_the_partial_job() -> None:
    provider = fake_cluster((("c5.large", 3),))
    view, lines = run(GREEDY, provider)
    assert running(provider) == {"q1-dy-c1-1", "q1-dy-c1-2"}  # q1-dy-c1-3 started, then terminated
    assert view.down == {
        "q1-dy-c1-3": failure_reason(LIMITED_CAPACITY_CODE),
        "q1-dy-c1-4": failure_reason(ICE),
        "q1-dy-c1-5": failure_reason(ICE),
    }
    assert any("terminating q1-dy-c1-3" in line for line in lines)


def test_best_effort_keeps_the_partial_job() -> None:
    provider = fake_cluster((("c5.large", 3),))
    view, _ = run(BEST, provider)
    assert running(provider) == {"q1-dy-c1-1", "q1-dy-c1-2", "q1-dy-c1-3"}
    assert set(view.down) == {"q1-dy-c1-4", "q1-dy-c1-5"}


def test_enough_capacity_launches_everything_in_every_strategy() -> None:
    for strategy in ScalingStrategy:
        provider = fake_cluster((("total", 6),))
        view, _ = run(strategy, provider)
        assert view.down == {}
        assert running(provider) == set(JOBS.nodes)


def test_injected_error_code_reaches_the_reason() -> None:
    provider = fake_cluster((), launch_errors=(("q1-dy-c1-4", "InsufficientHostCapacity"),))
    view, _ = run(AON, provider)
    assert running(provider) == {"q1-dy-c1-1", "q1-dy-c1-2"}
    assert set(view.down.values()) == {failure_reason("InsufficientHostCapacity")}


# -- the heartbeat gate --------------------------------------------------------------------


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_heartbeat_refusal(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    assert resume.heartbeat_refusal(None, NOW, 10) is None
    assert resume.heartbeat_refusal(path, NOW, 10) is None  # the reconciler has not started yet
    heartbeat.write_heartbeat(path, NOW - timedelta(seconds=5))
    assert resume.heartbeat_refusal(path, NOW, 10) is None
    heartbeat.write_heartbeat(path, NOW - timedelta(seconds=30))
    assert "30 s old (limit 10 s)" in (resume.heartbeat_refusal(path, NOW, 10) or "")
    path.write_text("garbage")
    assert "unreadable" in (resume.heartbeat_refusal(path, NOW, 10) or "")


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "CORRAL_STATE_DIR": str(tmp_path),
        "CORRAL_CLUSTER_NAME": "scale",
        "CORRAL_PROVIDER": "fake",
        **extra,
    }


def persisted_cluster(tmp_path: Path) -> FakeProvider:
    provider = FakeProvider(persist_dir=tmp_path / "fake-provider")
    provider.create(plan("scale", (("q1", "c1", 0, 6),)), on_event=lambda _r, _m: None)
    return provider


def test_main_refuses_on_a_stale_heartbeat(tmp_path: Path) -> None:
    provider = persisted_cluster(tmp_path)
    beat = tmp_path / "heartbeat"
    heartbeat.write_heartbeat(beat, datetime.now(UTC) - timedelta(seconds=100))
    view = SchedulerView()
    env = env_for(tmp_path, CORRAL_HEARTBEAT_FILE=str(beat), CORRAL_HEARTBEAT_TIMEOUT_S="60")
    assert resume.main(["q1-dy-c1-[1-2]"], env, view.mark_down) == 0
    assert view.down == {n: resume.STALE_REASON for n in ("q1-dy-c1-1", "q1-dy-c1-2")}
    assert running(provider) == set()
    # a fresh heartbeat lets the same request through
    heartbeat.write_heartbeat(beat, datetime.now(UTC))
    view = SchedulerView()
    assert resume.main(["q1-dy-c1-[1-2]"], env, view.mark_down) == 0
    assert view.down == {}
    assert running(FakeProvider(persist_dir=tmp_path / "fake-provider")) == {"q1-dy-c1-1", "q1-dy-c1-2"}


def test_main_reads_the_resume_file_and_strategy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    persisted_cluster(tmp_path)
    monkeypatch.setenv("CORRAL_FAKE_CAPACITY", "c5.large=3")
    doc = {
        "all_nodes_resume": "q1-dy-c1-[1-5]",
        "jobs": [
            {"job_id": 1, "nodes_alloc": "q1-dy-c1-[1-2]", "nodes_resume": "q1-dy-c1-[1-2]"},
            {"job_id": 2, "nodes_alloc": "q1-dy-c1-[3-5]", "nodes_resume": "q1-dy-c1-[3-5]"},
        ],
    }
    resume_file = tmp_path / "resume.json"
    resume_file.write_text(json.dumps(doc))
    view = SchedulerView()
    env = env_for(tmp_path, SLURM_RESUME_FILE=str(resume_file), CORRAL_SCALING_STRATEGY="best-effort")
    assert resume.main(["q1-dy-c1-[1-5]"], env, view.mark_down) == 0
    assert set(view.down) == {"q1-dy-c1-4", "q1-dy-c1-5"}
    assert running(FakeProvider(persist_dir=tmp_path / "fake-provider")) == {
        "q1-dy-c1-1",
        "q1-dy-c1-2",
        "q1-dy-c1-3",
    }


def test_unreadable_resume_file_falls_back_to_the_hostlist(tmp_path: Path) -> None:
    lines: list[str] = []
    request = resume.read_request("n[1-2]", str(tmp_path / "missing.json"), lines.append)
    assert request == ResumeRequest.from_hostlist(["n1", "n2"])
    assert "treating the hostlist as one job" in lines[0]
    (tmp_path / "r.json").write_text(json.dumps({"all_nodes_resume": "n1", "jobs": []}))
    # a hostlist node the file does not name is still launched
    assert resume.read_request("n[1-2]", str(tmp_path / "r.json")).nodes == ("n1", "n2")


def test_main_marks_every_node_down_when_the_provider_fails(tmp_path: Path) -> None:
    """No fake cluster was created: the provider raises; Slurm must not wait ResumeTimeout."""
    view = SchedulerView()
    assert resume.main(["q1-dy-c1-[1-2]"], env_for(tmp_path), view.mark_down) == 1
    assert view.down == {n: "Failure when resuming nodes" for n in ("q1-dy-c1-1", "q1-dy-c1-2")}
