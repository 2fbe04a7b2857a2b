"""Pure v2 and pure v1 cgroup hosts (issue #19, point 1), run for real where this kernel allows.

This machine is hybrid: its cgroup2 hierarchy has no controllers (memory, cpu and pids are bound
to v1 hierarchies, and a controller lives in one hierarchy only). So each layout is staged in a
private mount namespace holding only that layout at /sys/fs/cgroup, and Corral's cgroup code runs
there against the real kernel hierarchies: a pure v2 host (cgroup2 on /sys/fs/cgroup, so placement
and ``cgroup.kill``; its controllers cannot be enabled here, so the limits are not exercised), and a
pure v1 host (memory, cpu and pids only: placement, limits and killing by walking cgroup.procs)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from corral.providers.local import _cgroups

pytestmark = pytest.mark.e2e

STAGE = {
    "v2": "umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup",
    "v1": (
        "umount -l /sys/fs/cgroup && mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup && "
        "for c in memory cpu pids; do mkdir /sys/fs/cgroup/$c && "
        "mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c; done"
    ),
}

INSIDE = textwrap.dedent(
    """
    import json, subprocess, sys, time
    from pathlib import Path
    from corral.providers.local import _cgroups

    root = Path(sys.argv[1])
    root.mkdir()
    dirs = _cgroups.create_cluster(root, "layout-" + sys.argv[2])
    shaped = _cgroups.shape(root, _cgroups.HEAD, "c5.large")
    sleeper = subprocess.Popen([*_cgroups.enter_argv(root, _cgroups.HEAD), "sleep", "300"])
    deadline = time.monotonic() + 10
    while sleeper.pid not in _cgroups.pids(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    placed = Path(f"/proc/{sleeper.pid}/cgroup").read_text()
    held = sorted(_cgroups.pids(root))
    survivors = sorted(_cgroups.kill(root, grace_s=1))
    sleeper.wait(timeout=10)
    left = sorted(_cgroups.pids(root))
    _cgroups.remove([Path(d) for d in dirs.values()])
    gone = all(not Path(d).exists() for d in dirs.values())
    print(json.dumps(dict(keys=sorted(dirs), shaped=shaped, placed=placed, pid=sleeper.pid,
                          held=held, survivors=survivors, left=left, gone=gone,
                          status=sleeper.returncode)))
    """
)


def _run(layout: str, tmp_path: Path) -> dict[str, object]:
    script = f'{STAGE[layout]} && exec {sys.executable} -c "$0" "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, INSIDE]
    result = subprocess.run(
        [*argv, str(tmp_path / "cluster"), tmp_path.name[-12:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(result.stdout.splitlines()[-1]))


def test_a_pure_v2_host_places_and_kills_in_its_one_hierarchy(prerequisites: None, tmp_path: Path) -> None:
    out = _run("v2", tmp_path)
    assert out["keys"] == ["unified"]  # one hierarchy, as on a pure v2 host
    assert f"0::/{_cgroups.TOP}/layout-" in str(out["placed"]) and "/head" in str(out["placed"])
    assert out["held"] == [out["pid"]]
    assert out["survivors"] == [] and out["left"] == [] and out["gone"] is True
    assert out["status"] == -15  # TERM through the cgroup


def test_a_pure_v1_host_places_limits_and_kills_by_its_procs(prerequisites: None, tmp_path: Path) -> None:
    out = _run("v1", tmp_path)
    assert out["keys"] == ["cpu", "memory", "pids"]
    placed = str(out["placed"])
    assert all(f":{c}:/" in placed for c in ("memory", "pids")) and "/head" in placed
    shaped = list(map(str, out["shaped"]))  # type: ignore[call-overload]
    assert "cpu.cfs_quota_us=200000" in shaped and f"memory.limit_in_bytes={4096 << 20}" in shaped, shaped
    assert out["held"] == [out["pid"]]
    assert out["survivors"] == [] and out["left"] == [] and out["gone"] is True
