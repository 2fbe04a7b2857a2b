"""Ownership by identity in the local provider: cgroup layouts, cluster directory claims, path
matching without prefixes (the pure parts; the end-to-end fault suite drives real clusters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.errors import ConflictError
from corral.providers.local import _cgroups, _cluster, _owner

HYBRID = """\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
36 30 0:32 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset
"""
PURE_V2 = "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
OWN_HYBRID = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpu,cpuacct:/
0::/
"""


def test_a_hybrid_host_uses_the_v2_tree_for_killing_and_the_v1_controllers() -> None:
    found = {h.key: (str(h.mount), h.version) for h in _cgroups.parse_mountinfo(HYBRID)}
    assert found == {
        "unified": ("/sys/fs/cgroup/unified", 2),
        "cpu": ("/sys/fs/cgroup/cpu,cpuacct", 1),
        "memory": ("/sys/fs/cgroup/memory", 1),
        "pids": ("/sys/fs/cgroup/pids", 1),
    }


def test_v1_cgroups_nest_under_the_creators_own_and_v2_ones_under_the_root() -> None:
    own = _cgroups.parse_own_cgroups(OWN_HYBRID)
    assert own == {"pids": "/", "memory": "/process_api/abc", "cpu": "/", "unified": "/"}
    dirs = _cgroups.cluster_dirs(_cgroups.parse_mountinfo(HYBRID), own, "lab-1234")
    assert dirs["memory"] == "/sys/fs/cgroup/memory/process_api/abc/corral/lab-1234"
    assert dirs["unified"] == "/sys/fs/cgroup/unified/corral/lab-1234"
    assert dirs["cpu"] == "/sys/fs/cgroup/cpu,cpuacct/corral/lab-1234"


def test_a_pure_v2_host_has_one_hierarchy() -> None:
    hierarchies = _cgroups.parse_mountinfo(PURE_V2)
    assert [(h.key, h.version) for h in hierarchies] == [("unified", 2)]
    dirs = _cgroups.cluster_dirs(hierarchies, {"unified": "/user.slice/session-1.scope"}, "x-1")
    assert dirs == {"unified": "/sys/fs/cgroup/corral/x-1"}


def test_the_enter_prefix_names_each_hierarchys_procs_file(tmp_path: Path) -> None:
    cg = tmp_path / "cg"
    (tmp_path / "cgroups.json").write_text(f'{{"dirs": {{"unified": "{cg}/u", "memory": "{cg}/m"}}}}')
    (cg / "u").mkdir(parents=True)
    (cg / "m").mkdir()
    argv = _cgroups.enter_argv(tmp_path, "head")
    assert argv[:2] == ["sh", "-c"]
    assert argv[4:] == [f"{cg}/u/head/cgroup.procs", f"{cg}/m/head/cgroup.procs", "--"]


def test_a_cluster_without_cgroups_gets_no_prefix(tmp_path: Path) -> None:
    assert _cgroups.enter_argv(tmp_path, "head") == []
    assert _cgroups.kill(tmp_path) == set()


def test_a_claimed_directory_is_never_claimed_again(tmp_path: Path) -> None:
    root = tmp_path / "clusters" / "lab"
    _owner.claim(root, "one")
    with pytest.raises(ConflictError) as caught:
        _owner.claim(root, "two")
    assert "repair-state" in (caught.value.hint or "")
    assert _owner.cluster_id(root) == "one"
    assert _owner.owned_by(root, "one") and _owner.owned_by(root, "")
    assert not _owner.owned_by(root, "two")
    assert not _owner.owned_by(tmp_path / "clusters" / "lab0", "one")


def test_a_rollback_of_a_create_that_found_the_name_taken_touches_nothing(tmp_path: Path) -> None:
    from corral.providers.local._layout import ClusterLayout

    layout = ClusterLayout(tmp_path, "lab")
    _owner.claim(layout.root, "first")
    (layout.root / "cluster.json").write_text("{}")
    _cluster.teardown(layout, retain_storage=False, cluster_id="second")
    assert (layout.root / "cluster.json").exists()


@pytest.mark.parametrize(
    ("token", "named"),
    [
        ("/s/clusters/lab", True),
        ("/s/clusters/lab/etc/munge.key", True),
        ("--key-file=/s/clusters/lab", True),
        ("--key-file=/s/clusters/lab/etc/munge.key", True),
        ("/s/clusters/lab-gpu/etc/munge.key", False),
        ("/s/clusters/lab0", False),
        ("--pid-file=/s/clusters/lab0/x.pid", False),
    ],
)
def test_a_path_names_a_cluster_only_as_a_whole_path(token: str, named: bool) -> None:
    assert _cluster._names_path(token, "/s/clusters/lab") is named
