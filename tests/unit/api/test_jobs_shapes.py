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


def test_a_sacct_line_in_the_ui_shape_as_sacct_prints_it() -> None:
    # sacct -a -X -n -P -o SACCT_FIELDS (the same text in Slurm 22.05 and 24.11); the name is last
    # and may hold the delimiter
    line = "9|bob|physics|q2|FAILED|q2-st-c-1|2026-12-04T18:28:52|01:02:05|3:0|cpu=2,mem=1000M,node=1|a|b\n"
    assert finished_view(line) == {
        "jobId": 9,
        "name": "a|b",
        "user": "bob",
        "account": "physics",
        "partition": "q2",
        "state": "FAILED",
        "reason": "",
        "nodes": "q2-st-c-1",
        "submitTime": "2026-12-04T18:28:52",
        "elapsed": "01:02:05",
        "exitCode": "3:0",
        "tres": "cpu=2,mem=1000M,node=1",
    }
    cancelled = finished_view("12_3|amy|root|q1|CANCELLED by 0|None assigned|x|00:00:00|0:0||sleep")
    assert cancelled is not None
    assert (cancelled["jobId"], cancelled["state"], cancelled["nodes"]) == ("12_3", "CANCELLED by 0", "")
    assert finished_view("") is None and finished_view("not|enough") is None
