"""Small pure pieces of the service: timestamps, failure codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from corral.errors import ProviderError
from corral.service import iso
from corral.service._failures import failure_from


def test_iso_is_pcluster_form() -> None:
    assert iso(datetime(2021, 7, 15, 1, 22, 2, 655123, tzinfo=UTC)) == "2021-07-15T01:22:02.655Z"
    plus_two = timezone(timedelta(hours=2))
    assert iso(datetime(2021, 7, 15, 3, 22, 2, tzinfo=plus_two)) == "2021-07-15T01:22:02.000Z"
    assert iso(datetime(2021, 7, 15, 1, 22, 2)) == "2021-07-15T01:22:02.000Z"  # naive is UTC


def test_failure_codes_follow_pcluster() -> None:
    assert failure_from(ProviderError("OnNodeStart script exited 1"))[0] == "OnNodeStartExecutionFailure"
    assert failure_from(ProviderError("slurmctld did not start", hint="see log"))[1] == (
        "slurmctld did not start (see log)"
    )
    assert failure_from(ProviderError("slurmctld did not start"))[0] == "HeadNodeBootstrapFailure"
    assert failure_from(ProviderError("disk full"))[0] == "ClusterCreationFailure"
    assert failure_from(RuntimeError("x"))[1] == "unexpected error: RuntimeError: x"
    assert "Ctrl-C" in failure_from(KeyboardInterrupt())[1]
