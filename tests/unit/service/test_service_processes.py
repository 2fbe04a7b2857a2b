"""The service across real processes: a name race, and a creator killed with SIGKILL mid-create."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from corral.errors import ConflictError
from corral.providers.fake import FakeFailures, FakeProvider
from corral.service import ClusterService
from corral.state import StackStatus, StateStore
from support.plans import small_plan


def _service(state_dir: Path, failures: FakeFailures | None = None) -> tuple[ClusterService, FakeProvider]:
    provider = FakeProvider(failures, persist_dir=state_dir / "fake")
    return ClusterService(StateStore(state_dir), lambda _name: provider), provider


def _race(state_dir: str, barrier: Any, results: Any) -> None:
    service, _ = _service(Path(state_dir))
    barrier.wait(timeout=60)
    try:
        service.create_planned(small_plan("race"), provider="fake", config_text=f"pid: {os.getpid()}\n")
    except ConflictError:
        results.put("lost")
        return
    results.put(f"won {os.getpid()}")


def race(target: Any, n: int, *args: Any) -> list[str]:
    """Start ``n`` processes running ``target(*args, barrier, results)`` at once; their results."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    out = [results.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return out


def test_two_processes_creating_one_name_exactly_one_wins(tmp_path: Path) -> None:
    for round_ in range(3):
        state = tmp_path / f"r{round_}"
        results = race(_race, 2, str(state))
        winners = [r for r in results if r.startswith("won")]
        assert len(winners) == 1, results
        record = StateStore(state).get("race")
        assert record.config_text == f"pid: {winners[0].split()[1]}\n"  # the winner's request is recorded


CREATOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from support.plans import small_plan
    from corral.providers.fake import FakeFailures, FakeProvider
    from corral.service import ClusterService
    from corral.state import StateStore

    state = Path({state!r})
    provider = FakeProvider(FakeFailures(create_delay_s=60), persist_dir=state / "fake")
    service = ClusterService(StateStore(state), lambda _n: provider)
    service.create_planned(small_plan("victim"), provider="fake", config_text="x: 1\\n")
    print("accepted", flush=True)
    service.run_create("victim")
    """
)


def test_kill_9_during_create_is_reported_truthfully_and_deletes_completely(tmp_path: Path) -> None:
    state = tmp_path / "state"
    tests_dir = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(
        [sys.executable, "-c", CREATOR.format(tests=tests_dir, state=str(state))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "accepted"
        service, provider = _service(state)
        deadline = time.monotonic() + 20
        while not provider.exists("victim") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert provider.exists("victim")  # the head node is up; the creator sleeps mid-create
        desc = service.describe("victim").to_json()
        assert desc["clusterStatus"] == "CREATE_IN_PROGRESS"  # its creator is alive
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        desc = service.describe("victim").to_json()
        assert desc["clusterStatus"] == "CREATE_FAILED"
        assert "create was interrupted" in desc["failures"][0]["failureReason"]
        assert str(proc.pid) in desc["failures"][0]["failureReason"]
        service.delete("victim")
        assert service.run_delete("victim") is None
        assert not provider.exists("victim")
        assert service.store.find("victim") is None
    finally:
        if proc.poll() is None:
            proc.kill()


def test_kill_9_of_a_rollback_is_rollback_failed(tmp_path: Path) -> None:
    service, _ = _service(tmp_path)
    service.create_planned(small_plan("rb"), provider="fake", config_text="")
    record = service.store.get("rb")
    from dataclasses import replace

    rolling = service.store.save(record, replace(record, stack_status=StackStatus.ROLLBACK_IN_PROGRESS))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    from corral.state import ProcessIdentity

    ident = ProcessIdentity.of(dead.pid)
    dead.wait()
    service.store.save(rolling, replace(rolling, owner=ident))
    assert service.get("rb").stack_status is StackStatus.ROLLBACK_FAILED
