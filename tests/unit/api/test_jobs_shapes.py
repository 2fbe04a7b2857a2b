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
