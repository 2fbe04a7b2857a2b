"""The reconciler enforces a cluster's time-to-live (``corral run --ttl``) from the head node's side."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from corral.daemons._loop import Loop, LoopFiles
from corral.daemons.events import read_events
from corral.errors import ProviderError
from corral.providers.base import CommandResult, Instance


class Head:
    """A head node with no Slurm to speak of; records the expire requests."""

    name = "scripted"

    def __init__(self, fail: int = 0) -> None:
        self.expired: list[str] = []
        self.fail = fail

    def instances(self, cluster_name: str) -> list[Instance]:
        return []

    def heal_login_nodes(self, cluster_name: str) -> list[str]:
        return []

    def run_on_head(self, cluster_name: str, argv: Sequence[str], **_: object) -> CommandResult:
        return CommandResult(1, "", "no slurm here")

    def expire(self, cluster_name: str) -> None:
        if self.fail:
            self.fail -= 1
            raise ProviderError("cannot start the delete")
        self.expired.append(cluster_name)


def test_nothing_happens_before_the_time_to_live() -> None:
    head = Head()
    loop = Loop(head, "c", log=lambda _: None, expires_at=datetime.now(UTC) + timedelta(hours=1))  # type: ignore[arg-type]
    loop.step()
    loop.step()
    assert head.expired == []


def test_a_cluster_past_its_time_to_live_is_deleted_once_and_the_event_recorded(tmp_path: Path) -> None:
    head = Head()
    events = tmp_path / "events"
    loop = Loop(
        head,  # type: ignore[arg-type]
        "c",
        log=lambda _: None,
        files=LoopFiles(events=events),
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    loop.step()
    loop.step()
    assert head.expired == ["c"]
    assert [e["event-type"] for e in read_events(events)] == ["cluster-expired"]


def test_a_failed_delete_is_tried_again_next_pass() -> None:
    head = Head(fail=1)
    logged: list[str] = []
    loop = Loop(head, "c", log=logged.append, expires_at=datetime.now(UTC) - timedelta(seconds=1))  # type: ignore[arg-type]
    loop.step()
    assert head.expired == [] and any("could not delete" in line for line in logged)
    loop.step()
    assert head.expired == ["c"]


# -- corral delete-cluster run on one of the cluster's nodes ---------------------------------------


def test_a_request_from_a_node_deletes_the_cluster_once(tmp_path: Path) -> None:
    from corral.node.selfdelete import request_delete

    head = Head(fail=1)
    requests, events = tmp_path / "requests", tmp_path / "events"
    requests.mkdir()
    loop = Loop(head, "c", log=lambda _: None, files=LoopFiles(events=events, requests=requests))  # type: ignore[arg-type]
    loop.step()
    assert head.expired == []  # nothing asked yet
    request_delete(requests, node="q1-st-c1-1", user="alice")
    loop.step()  # the provider failed to start the delete: the request stays
    assert head.expired == [] and (requests / "delete-cluster").exists()
    loop.step()
    loop.step()
    assert head.expired == ["c"] and not (requests / "delete-cluster").exists()
    messages = [e["message"] for e in read_events(events) if e["event-type"] == "cluster-delete-requested"]
    assert len(messages) == 2 and "alice on q1-st-c1-1" in messages[-1]
