"""Custom actions: log files, timeouts (whole process group killed), the agent's deadline and
phases, node files placed without touching the host, and the parallel fetch with its ETag cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from corral.node import fetch as fetch_mod
from corral.node.actions import Action, ActionFailure, action_log_name, run_action, script_basename
from corral.node.agent import BootstrapFailure, BootstrapSpec, bootstrap, main
from corral.node.nodefiles import MountError, group_by_top
from support.servers import s3_server

ENV = {"PATH": os.environ["PATH"]}


def _script(path: Path, body: str) -> str:
    path.write_text(body)
    path.chmod(0o755)
    return str(path)


def test_log_names_follow_the_convention() -> None:
    assert action_log_name(1, "OnNodeConfigured", "s3://b/head/01-create-users.sh") == (
        "01-OnNodeConfigured-01-create-users.sh.log"
    )
    assert action_log_name(12, "OnNodeStart", "https://x/y/run me.py?v=1") == "12-OnNodeStart-run_me.py.log"
    assert script_basename("/") == "script"


def test_output_goes_to_the_log_with_header_and_footer(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "01-OnNodeStart-a.sh.log"
    script = _script(tmp_path / "a.sh", '#!/bin/sh\necho "out $1"\necho "err $2" >&2\n')
    run_action(Action("OnNodeStart", script, ("x", "y"), "s3://b/a.sh", str(log)), ENV)
    lines = log.read_text().splitlines()
    assert lines[0].startswith("=== ") and "OnNodeStart s3://b/a.sh args=['x', 'y']" in lines[0]
    assert lines[1:3] == ["out x", "err y"]
    assert lines[3].startswith("=== exit 0 after ")


def test_a_failure_names_script_exit_code_and_the_end_of_its_output(tmp_path: Path) -> None:
    script = _script(
        tmp_path / "bad.sh",
        "#!/bin/sh\n" + "".join(f"echo line{i}\n" for i in range(20)) + "echo boom >&2\nexit 7\n",
    )
    with pytest.raises(ActionFailure) as caught:
        run_action(Action("OnNodeConfigured", script, (), "s3://b/bad.sh", str(tmp_path / "l.log")), ENV)
    message = str(caught.value)
    assert message.startswith("OnNodeConfigured script s3://b/bad.sh exited with 7: ")
    assert message.endswith("line19 / boom") and "line9 " not in message


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = _script(
        tmp_path / "slow.sh", f"#!/bin/bash\nsleep 30 &\necho $! > {marker}\necho waiting\nwait\n"
    )
    started = time.monotonic()
    with pytest.raises(ActionFailure, match=r"OnNodeStart script .*slow.sh timed out after 1 s: waiting"):
        run_action(Action("OnNodeStart", script, (), "", str(tmp_path / "t.log")), ENV, timeout_s=1)
    assert time.monotonic() - started < 5
    child = int(marker.read_text())
    time.sleep(0.1)
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_daemon_started_by_a_script_does_not_block_it(tmp_path: Path) -> None:
    marker = tmp_path / "daemon.pid"
    script = _script(tmp_path / "svc.sh", f"#!/bin/bash\nsleep 30 &\necho $! > {marker}\n")
    started = time.monotonic()
    run_action(Action("OnNodeConfigured", script, (), "", str(tmp_path / "s.log")), ENV, timeout_s=10)
    assert time.monotonic() - started < 3
    os.kill(int(marker.read_text()), 9)


def _spec(tmp_path: Path, actions: tuple[Action, ...], timeout_s: int = 0) -> BootstrapSpec:
    return BootstrapSpec(
        node_name="n1",
        hostname="n1",
        status_file=str(tmp_path / "status.json"),
        actions=actions,
        timeout_s=timeout_s,
    )


def test_the_service_environment_reaches_the_services_and_never_the_actions(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    show = f'echo "$0 ${{MALLOC_ARENA_MAX:-unset}} ${{A:-unset}}" >> {seen}'
    spec = BootstrapSpec(
        node_name="n1",
        hostname="n1",
        status_file=str(tmp_path / "status.json"),
        actions=(Action("OnNodeConfigured", _script(tmp_path / "a.sh", f"#!/bin/sh\n{show}\n")),),
        late_services=(("sh", "-c", show, "service"),),
        env=(("A", "1"), ("PATH", os.environ["PATH"])),
        service_env=(("MALLOC_ARENA_MAX", "1"),),
    )
    bootstrap(spec, "configured")
    assert seen.read_text().splitlines() == [f"{tmp_path / 'a.sh'} unset 1", "service 1 1"]


def test_the_deadline_covers_all_actions_and_phases_select_events(tmp_path: Path) -> None:
    out = tmp_path / "ran"
    record = _script(tmp_path / "rec.sh", f'#!/bin/sh\necho "$CORRAL_EVENT $1" >> {out}\n')
    actions = (
        Action("OnNodeConfigured", record, ("c",)),
        Action("OnNodeUpdated", record, ("u",)),
    )
    bootstrap(_spec(tmp_path, actions), "configured")
    bootstrap(_spec(tmp_path, actions), "updated")
    assert out.read_text() == "OnNodeConfigured c\nOnNodeUpdated u\n"
    slow = _script(tmp_path / "slow.sh", "#!/bin/sh\nsleep 1.5\n")
    two = (Action("OnNodeConfigured", slow, (), "one.sh"), Action("OnNodeConfigured", record, (), "two.sh"))
    with pytest.raises(BootstrapFailure, match=r"one\.sh timed out after 1 s"):
        bootstrap(_spec(tmp_path, two, timeout_s=1), "configured")


def test_main_reports_an_unknown_phase_and_writes_the_status(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.json"
    bad = _script(tmp_path / "bad.sh", "#!/bin/sh\necho nope >&2\nexit 2\n")
    spec_file.write_text(_spec(tmp_path, (Action("OnNodeUpdated", bad, (), "u.sh"),)).dump())
    assert main([str(spec_file), "--phase", "later"]) == 2
    assert main([str(spec_file), "--phase", "updated"]) == 1
    assert (
        '"failed"' in (tmp_path / "status.json").read_text()
        and "u.sh exited with 2: nope" in (tmp_path / "status.json").read_text()
    )


def test_node_files_are_grouped_by_top_directory() -> None:
    groups = group_by_top(
        [("/etc/parallelcluster/cfnconfig", "a"), ("/opt/x/y.yaml", "b"), ("/etc/chef/dna.json", "c")]
    )
    assert groups == {
        "/etc": [("parallelcluster/cfnconfig", "a"), ("chef/dna.json", "c")],
        "/opt": [("x/y.yaml", "b")],
    }
    with pytest.raises(MountError):
        group_by_top([("/toplevel", "x")])


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")
def test_node_files_appear_in_the_namespace_only(tmp_path: Path) -> None:
    target = f"/etc/corral-test-{os.getpid()}/cfnconfig"
    code = (
        "from corral.node.nodefiles import install\n"
        f"install([({target!r}, 'cfn_node_type=HeadNode\\n')], {str(tmp_path / 'scratch')!r})\n"
        f"print(open('/etc/corral-test-{os.getpid()}/cfnconfig').read(), end='')\n"
        "open('/etc/corral-written-in-node', 'w').write('x')\n"
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "slave", sys.executable, "-c", code],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "cfn_node_type=HeadNode\n"
    assert not os.path.exists(f"/etc/corral-test-{os.getpid()}")
    assert not os.path.exists("/etc/corral-written-in-node")


def test_fetch_all_in_parallel_with_an_etag_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with s3_server(monkeypatch, "many") as s3:
        for i in range(20):
            s3.put_object(Bucket="many", Key=f"s/{i}.sh", Body=f"echo {i}\n".encode())
        sources = [f"s3://many/s/{i}.sh" for i in range(20)]
        got = fetch_mod.fetch_all([*sources, sources[0]], tmp_path / "c")
        assert len(got) == 20 and got[sources[3]].read_text() == "echo 3\n"
        s3.put_object(Bucket="many", Key="s/3.sh", Body=b"echo changed\n")
        again = fetch_mod.fetch_all(sources, tmp_path / "c")
        assert again[sources[3]].read_text() == "echo changed\n"
        assert again[sources[4]].read_text() == "echo 4\n"
        with pytest.raises(fetch_mod.FetchError, match=r"s3://many/missing\.sh"):
            fetch_mod.fetch_all([sources[0], "s3://many/missing.sh"], tmp_path / "c")


def test_the_old_endpoint_variable_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with s3_server(monkeypatch, "old") as s3:
        s3.put_object(Bucket="old", Key="a.sh", Body=b"echo old\n")
        endpoint: Any = os.environ["AWS_ENDPOINT_URL"]
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        monkeypatch.setenv("CORRAL_S3_ENDPOINT_URL", endpoint)
        assert fetch_mod.s3_endpoint() == endpoint
        assert fetch_mod.fetch("s3://old/a.sh", tmp_path / "c").read_text() == "echo old\n"
