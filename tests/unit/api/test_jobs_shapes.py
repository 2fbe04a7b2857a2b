"""squeue/sacct JSON of Slurm 22.05 (states as strings) and 24.11 (lists, set/number objects) read
into one shape for the UI."""

from __future__ import annotations

from corral.service._jobs import finished_view, job_view


def test_squeue_22_05_and_24_11_give_the_same_view() -> None:
    old = {
        "job_id": 7,
        "name": "<b>x</b>",
        "user_name": "alice",
        "partition": "q1",
        "job_state": "PENDING",
        "state_reason": "Resources",
        "nodes": "",
        "submit_time": 1700000000,
    }
    new = {
        **old,
        "job_state": ["PENDING"],
        "submit_time": {"set": True, "infinite": False, "number": 1700000000},
    }
    assert (
        job_view(old)
        == job_view(new)
        == {
            "jobId": 7,
            "name": "<b>x</b>",
            "user": "alice",
            "partition": "q1",
            "state": "PENDING",
            "reason": "Resources",
            "nodes": "",
            "submitTime": "1700000000",
        }
    )


def test_sacct_22_05_and_24_11_give_the_same_view() -> None:
    old = {
        "job_id": 3,
        "name": "n",
        "user": "bob",
        "partition": "q2",
        "nodes": "q2-st-c-1",
        "state": {"current": "COMPLETED", "reason": "None"},
        "time": {"submission": 1700000001},
    }
    new = {**old, "state": {"current": ["COMPLETED"], "reason": "None"}}
    assert finished_view(old) == finished_view(new)
    assert finished_view(new)["state"] == "COMPLETED"


def test_sacct_accounting_fields_as_sacct_prints_them() -> None:
    tres = [
        {"type": "cpu", "name": "", "id": 1, "count": 2},
        {"type": "mem", "name": "", "id": 2, "count": 1000},
        {"type": "node", "name": "", "id": 4, "count": 1},
        {"type": "gres", "name": "gpu", "id": 1001, "count": 1},
    ]
    old = {
        "job_id": 9,
        "account": "physics",
        "state": {"current": "FAILED", "reason": "None"},
        "time": {"elapsed": 3725, "submission": 1},
        "exit_code": {"status": "FAILED", "return_code": 3},
        "tres": {"allocated": tres},
    }
    new = {
        **old,
        "state": {"current": ["FAILED"], "reason": "None"},
        "time": {"elapsed": 3725, "submission": 1},
        "exit_code": {
            "status": ["FAILED"],
            "return_code": {"set": True, "infinite": False, "number": 3},
            "signal": {"id": {"set": False, "infinite": False, "number": 0}, "name": ""},
        },
    }
    for doc in (old, new):
        view = finished_view(doc)
        assert view["account"] == "physics"
        assert view["elapsed"] == "01:02:05"
        assert view["exitCode"] == "3:0"
        assert view["tres"] == "cpu=2,mem=1000M,node=1,gres/gpu=1"
    killed = {**old, "time": {"elapsed": 90061}, "exit_code": {"return_code": 0, "signal": {"signal_id": 9}}}
    assert (finished_view(killed)["elapsed"], finished_view(killed)["exitCode"]) == ("1-01:01:01", "0:9")
