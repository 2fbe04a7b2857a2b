"""The head's supervisor with real processes: adoption, restart with backoff, events, revival,
single instance, exit when its spec goes. And the compute node's watchdog, outside any node."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corral.daemons.events import read_events
from corral.node import supervisor, watchdog
from corral.node.supervisor import Service, SupervisorSpec, Watch
from corral.runtime.heartbeat import write_heartbeat

SLEEPER = (sys.executable, "-c", "import time; time.sleep(300)", "corral-test-sleeper")


def _wait(condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _spec(tmp_path: Path, services: tuple[Service, ...]) -> tuple[SupervisorSpec, Path]:
    spec_path = tmp_path / "supervisor.json"
    spec = SupervisorSpec(
        cluster="sup",
        argv=(sys.executable, "-m", supervisor.SUPERVISOR_MODULE, str(spec_path)),
        pid_file=str(tmp_path / "supervisor.pid"),
        lock_file=str(tmp_path / "supervisor.lock"),
        events_file=str(tmp_path / "supervisor.events"),
        log=str(tmp_path / "supervisor.log"),
        services=services,
        env=(("PATH", os.environ.get("PATH", "/usr/bin:/bin")),),
        poll_s=0.05,
    )
    spec_path.write_text(spec.dump())
    return spec, spec_path


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[Service]:
    service = Service(
        "sleeper",
        SLEEPER,
        str(tmp_path / "sleeper.pid"),
        program=os.path.basename(sys.executable),
        markers=("corral-test-sleeper",),
        env=(("PATH", "/usr/bin:/bin"),),
    )
    yield service
    pid = _pid(Path(service.pid_file))
    if pid and supervisor.is_service(service, pid):
        os.kill(pid, signal.SIGKILL)


def test_the_spec_round_trips() -> None:
    service = Service("s", ("a", "b"), "/p", "a", ("m",), True, True, (("K", "V"),), "/log")
    spec = SupervisorSpec("c", ("x",), "/pid", "/lock", "/ev", "/log", (service,), (("P", "Q"),), 0.1)
    assert SupervisorSpec.load(spec.dump()) == spec


def test_a_dead_service_is_restarted_with_a_count_and_an_event_until_the_spec_goes(
    tmp_path: Path, sleeper: Service
) -> None:
    spec, spec_path = _spec(tmp_path, (sleeper,))
    process = subprocess.Popen(list(spec.argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pid_file = Path(sleeper.pid_file)
        _wait(lambda: supervisor.is_service(sleeper, _pid(pid_file)))
        first = _pid(pid_file)
        assert supervisor.running(spec, spec_path) == process.pid
        # a second supervisor for the same spec exits at once (the lock)
        second = subprocess.run(list(spec.argv), capture_output=True, text=True, timeout=20)
        assert second.returncode == 0 and "another supervisor" in second.stdout
        assert first is not None
        os.kill(first, signal.SIGKILL)
        _wait(lambda: _pid(pid_file) != first and supervisor.is_service(sleeper, _pid(pid_file)))
        events = read_events(Path(spec.events_file))
        assert [e["event-type"] for e in events] == ["service-started", "service-restarted"]
        assert events[1]["detail"]["restart-count"] == 1  # type: ignore[index]
        assert f"pid {first} is gone" in str(events[1]["message"])
        spec_path.unlink()  # the cluster is being deleted
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_service_that_keeps_dying_backs_off(tmp_path: Path) -> None:
    dying = Service("dying", ("/bin/false",), str(tmp_path / "dying.pid"), program="false")
    spec, _ = _spec(tmp_path, (dying,))
    watch = Watch()
    now = time.monotonic()
    supervisor.check(spec, dying, watch, now)
    assert watch.restarts == 0 and watch.backoff_s == 2 * supervisor.INITIAL_BACKOFF_S
    supervisor.check(spec, dying, watch, now + 0.1)  # within its backoff: not started again
    assert watch.restarts == 0
    for _ in range(8):
        _wait(lambda: not supervisor.is_service(dying, watch.pid))  # it died again
        supervisor.check(spec, dying, watch, watch.next_start + 0.01)
    assert watch.restarts == 8 and watch.backoff_s == supervisor.MAX_BACKOFF_S


def test_revive_starts_a_supervisor_only_when_none_runs(tmp_path: Path, sleeper: Service) -> None:
    spec, spec_path = _spec(tmp_path, (sleeper,))
    pid = supervisor.revive(spec_path)
    assert pid is not None
    try:
        _wait(lambda: supervisor.running(spec, spec_path) == pid)
        assert supervisor.revive(spec_path) is None
    finally:
        spec_path.unlink()
        _wait(lambda: supervisor.running(spec, spec_path) is None)
    assert supervisor.revive(spec_path) is None  # no spec, no supervisor


# -- the watchdog ------------------------------------------------------------------------------


def test_silence_is_the_heartbeat_age_or_the_time_since_start_without_one(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    beat = tmp_path / "heartbeat"
    assert watchdog.stale_for(beat, now, now - timedelta(seconds=7)) == pytest.approx(7)
    write_heartbeat(beat, now - timedelta(seconds=3))
    assert watchdog.stale_for(beat, now, now - timedelta(seconds=70)) == pytest.approx(3, abs=0.01)
    assert watchdog.poll_interval(600) == 10 and watchdog.poll_interval(15) == 1.5
    assert watchdog.poll_interval(1) == 0.5


def test_the_watchdog_waits_while_the_head_beats_and_acts_once_it_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    beat = tmp_path / "heartbeat"
    write_heartbeat(beat, datetime.now(UTC))
    argv = ["--heartbeat", str(beat), "--timeout", "0.6", "--node", "n1", "--poll", "0.05"]
    argv += ["--netns", "corral-unit-test-no-such-netns", "--pid-file", str(tmp_path / "w.pid")]
    started = time.monotonic()
    assert watchdog.main(argv) == 0  # outside a node: nothing is killed (the host is refused)
    assert time.monotonic() - started >= 0.5
    out = capsys.readouterr().out
    assert "heartbeat is stale" in out and "node n1: shut down" in out
    assert watchdog.node_pids("corral-unit-test-no-such-netns") == []
    assert "refusing to stop anything" in out
