"""The node agent: fetching scripts (local, https, s3 on a real moto server) and running them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.node import fetch as fetch_mod
from corral.node.agent import Action, BootstrapFailure, BootstrapSpec, run_action
from support.servers import s3_server, web_server


def _script(path: Path, body: str) -> Path:
    path.write_text(body)
    path.chmod(0o755)
    return path


def test_fetch_local_path_copies_once(tmp_path: Path) -> None:
    source = _script(tmp_path / "a.sh", "#!/bin/sh\necho a\n")
    first = fetch_mod.fetch(str(source), tmp_path / "cache")
    assert first.read_text() == source.read_text() and os.access(first, os.X_OK)
    source.write_text("changed")
    assert fetch_mod.fetch(str(source), tmp_path / "cache").read_text().startswith("#!/bin/sh")


def test_fetch_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(fetch_mod.FetchError, match="no such file"):
        fetch_mod.fetch(str(tmp_path / "nope.sh"), tmp_path / "cache")


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    with web_server(root) as url:
        yield url, root


def test_fetch_over_http(http_dir: tuple[str, Path], tmp_path: Path) -> None:
    url, root = http_dir
    (root / "s.sh").write_text("#!/bin/sh\necho web\n")
    assert fetch_mod.fetch(f"{url}/s.sh", tmp_path / "c").read_text() == "#!/bin/sh\necho web\n"
    with pytest.raises(fetch_mod.FetchError, match="cannot download"):
        fetch_mod.fetch(f"{url}/missing.sh", tmp_path / "c")


def test_fetch_from_s3_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with s3_server(monkeypatch, "scripts") as s3:
        s3.put_object(Bucket="scripts", Key="dir/boot.sh", Body=b"#!/bin/sh\necho s3\n")
        got = fetch_mod.fetch("s3://scripts/dir/boot.sh", tmp_path / "c")
        assert got.read_text() == "#!/bin/sh\necho s3\n"
        with pytest.raises(fetch_mod.FetchError, match=r"s3://scripts/none\.sh"):
            fetch_mod.fetch("s3://scripts/none.sh", tmp_path / "c")


def test_run_action_passes_args_and_reports_failures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok = _script(tmp_path / "ok.sh", f'#!/bin/sh\necho "$1 $2" > {out}\n')
    run_action(Action("OnNodeStart", str(ok), ("a", "b")), {"PATH": os.environ["PATH"]})
    assert out.read_text() == "a b\n"
    no_shebang = tmp_path / "plain.sh"
    no_shebang.write_text(f"echo plain > {out}\n")
    run_action(Action("OnNodeStart", str(no_shebang)), {"PATH": os.environ["PATH"]})
    assert out.read_text() == "plain\n"
    bad = _script(tmp_path / "bad.sh", "#!/bin/sh\necho broken disk >&2\nexit 3\n")
    with pytest.raises(
        BootstrapFailure, match=r"OnNodeConfigured script s3://b/bad.sh exited with 3: broken disk"
    ):
        run_action(Action("OnNodeConfigured", str(bad), (), "s3://b/bad.sh"), {"PATH": os.environ["PATH"]})


needs_root_ns = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare for UTS/mount namespaces",
)


@needs_root_ns
def test_agent_runs_actions_in_order_and_fails_the_node(tmp_path: Path) -> None:
    log = tmp_path / "log"
    reported = tmp_path / "reported"
    first = _script(tmp_path / "1.sh", f"#!/bin/sh\necho start-$(hostname) >> {log}\n")
    second = _script(tmp_path / "2.sh", f"#!/bin/sh\necho configured >> {log}\nexit 7\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "marker").write_text("x")
    spec = BootstrapSpec(
        node_name="q1-dy-c1-1",
        hostname="q1-dy-c1-1",
        status_file=str(tmp_path / "status.json"),
        mounts=((str(shared), str(tmp_path / "mnt")),),
        actions=(
            Action("OnNodeConfigured", str(second)),
            Action("OnNodeStart", str(first)),
        ),
        services=(("sh", "-c", f"ls {tmp_path / 'mnt'} >> {log}"),),
        env=(("PATH", os.environ["PATH"]),),
        on_failure=("sh", "-c", f'echo "$1" > {reported}', "sh"),
    )
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(spec.dump())
    result = subprocess.run(
        [
            "unshare",
            "--uts",
            "--mount",
            "--propagation",
            "slave",
            sys.executable,
            "-m",
            "corral.node",
            str(spec_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert log.read_text().splitlines() == ["start-q1-dy-c1-1", "marker", "configured"]
    status = (tmp_path / "status.json").read_text()
    assert '"failed"' in status and "exited with 7" in status
    assert reported.read_text().startswith("Reason=bootstrap failure: OnNodeConfigured script")
    assert not (tmp_path / "mnt" / "marker").exists()  # the mount stayed inside the namespace
