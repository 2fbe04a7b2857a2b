"""The lifecycle tables: every edge has a reason, in-progress statuses have an interrupted landing."""

from __future__ import annotations

import itertools

import pytest

from corral.errors import ConflictError
from corral.state import (
    FLEET_TRANSITIONS,
    IN_PROGRESS,
    INTERRUPTED_TO,
    STACK_TRANSITIONS,
    FleetStatus,
    StackStatus,
    check_stack_transition,
    cluster_status,
)


def test_every_edge_has_a_reason() -> None:
    for table in (STACK_TRANSITIONS, FLEET_TRANSITIONS):
        for edge, why in table.items():
            assert why.strip(), edge


def test_every_in_progress_status_has_an_interrupted_landing_that_is_an_edge() -> None:
    assert set(INTERRUPTED_TO) == set(IN_PROGRESS)
    for src, dst in INTERRUPTED_TO.items():
        assert (src, dst) in STACK_TRANSITIONS


def test_every_status_is_reachable_from_create() -> None:
    seen = {StackStatus.CREATE_IN_PROGRESS}
    frontier = [StackStatus.CREATE_IN_PROGRESS]
    while frontier:
        cur = frontier.pop()
        for src, dst in STACK_TRANSITIONS:
            if src is cur and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert seen == set(StackStatus)


def test_fleet_stop_and_start_are_paths() -> None:
    F = FleetStatus
    for path in (
        [F.RUNNING, F.STOP_REQUESTED, F.STOPPING, F.STOPPED],
        [F.STOPPED, F.START_REQUESTED, F.STARTING, F.RUNNING],
    ):
        for a, b in itertools.pairwise(path):
            assert (a, b) in FLEET_TRANSITIONS


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (StackStatus.CREATE_COMPLETE, StackStatus.CREATE_IN_PROGRESS),
        (StackStatus.ROLLBACK_COMPLETE, StackStatus.CREATE_COMPLETE),
        (StackStatus.DELETE_IN_PROGRESS, StackStatus.CREATE_COMPLETE),
    ],
)
def test_invalid_edges_raise_with_allowed_list(src: StackStatus, dst: StackStatus) -> None:
    with pytest.raises(ConflictError) as err:
        check_stack_transition("c", src, dst)
    assert "can only go to" in err.value.hint


def test_cluster_status_maps_rollbacks_like_pcluster() -> None:
    assert cluster_status(StackStatus.ROLLBACK_COMPLETE) == "CREATE_FAILED"
    assert cluster_status(StackStatus.ROLLBACK_IN_PROGRESS) == "CREATE_FAILED"
    assert cluster_status(StackStatus.UPDATE_ROLLBACK_COMPLETE) == "UPDATE_FAILED"
    assert cluster_status(StackStatus.CREATE_COMPLETE) == "CREATE_COMPLETE"
