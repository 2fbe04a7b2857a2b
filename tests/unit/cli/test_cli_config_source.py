"""``-c`` as pcluster's: a file, ``-``, ``/dev/stdin`` or a pipe; anything else its own message."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .test_cli import CORRAL, EXAMPLE

DRY = ["create-cluster", "-n", "demo", "--dryrun", "true", "-c"]
SUCCEEDED = "Request would have succeeded, but DryRun flag is set."


def _corral(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CORRAL, *args], capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload,no-any-return]


def _message(result: subprocess.CompletedProcess[str]) -> str:
    return str(json.loads(result.stdout)["message"])


def test_dash_and_dev_stdin_read_standard_input() -> None:
    for arg in ("-", "/dev/stdin"):
        with EXAMPLE.open("rb") as stdin:
            result = _corral([*DRY, arg], stdin=stdin)
        assert result.returncode == 0, result.stdout + result.stderr
        assert _message(result) == SUCCEEDED


def test_a_piped_dev_stdin_and_process_substitution() -> None:
    text = EXAMPLE.read_text()
    piped = _corral([*DRY, "/dev/stdin"], input=text)
    assert _message(piped) == SUCCEEDED
    command = " ".join([*CORRAL, *DRY]) + f" <(cat {EXAMPLE})"
    substituted = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert substituted.returncode == 0, substituted.stdout + substituted.stderr
    assert _message(substituted) == SUCCEEDED


def test_a_named_fifo_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "cluster.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat {EXAMPLE} > {fifo}"])
    result = _corral([*DRY, str(fifo)])
    writer.wait(timeout=30)
    assert _message(result) == SUCCEEDED


def test_each_unusable_path_gets_its_own_message(tmp_path: Path) -> None:
    expected = {
        str(tmp_path): f"Bad Request: '{tmp_path}' is a directory, not a config file",
        "/dev/null": "Bad Request: '/dev/null' is a character device, not a config file",
        str(tmp_path / "absent.yaml"): f"Bad Request: File not found: '{tmp_path / 'absent.yaml'}'",
    }
    for arg, message in expected.items():
        result = _corral([*DRY, arg])
        assert result.returncode == 1
        assert _message(result) == message


def test_a_terminal_and_an_empty_pipe_are_said_so() -> None:
    empty = subprocess.run(
        ["bash", "-c", " ".join([*CORRAL, *DRY]) + " <(true)"], capture_output=True, text=True, timeout=120
    )
    assert "cannot be empty (the pipe '/dev/fd/" in _message(empty)
    master, slave = os.openpty()
    try:
        tty = _corral([*DRY, "-"], stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    assert _message(tty) == "Bad Request: '-' is a terminal: nothing to read the config from"


def test_the_size_cap_states_the_real_size(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as out:
        out.truncate(20 * 1024 * 1024)  # sparse: 20 MiB of NULs without writing them
    result = _corral([*DRY, str(big)])
    assert _message(result) == (
        f"Bad Request: '{big}' is 20.0 MiB (20971520 bytes); "
        "a config may be at most 16.0 MiB (16777216 bytes)"
    )
    piped = subprocess.run(
        ["bash", "-c", " ".join([*CORRAL, *DRY]) + " <(head -c 17000000 /dev/zero)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "gave more than the 16.0 MiB (16777216 bytes) a config may have" in _message(piped)


def test_a_yaml_error_hint_does_not_suggest_suppressing_it() -> None:
    result = _corral([*DRY, "-"], input="Image:\n  Os: [\n")
    assert result.returncode == 1
    assert "--suppress-validators" not in result.stderr
    assert "--validation-failure-level" not in result.stderr
    assert "the file must load" in result.stderr


def test_a_validator_error_hint_names_its_type_and_no_failure_level() -> None:
    bad = EXAMPLE.read_text().replace("MinCount: 1", "MinCount: 9", 1)
    assert bad != EXAMPLE.read_text()
    result = _corral([*DRY, "-"], input=bad)
    assert result.returncode == 1
    hint = result.stderr.split("hint: ", 1)[1]
    assert "--suppress-validators type:" in hint
    assert "--validation-failure-level" not in hint  # the findings are ERRORs: no level lets them pass


def test_update_cluster_reads_its_config_from_standard_input_too(tmp_path: Path) -> None:
    env = {**os.environ, "CORRAL_STATE_DIR": str(tmp_path / "state")}
    create = ["create-cluster", "-n", "demo", "-c", str(EXAMPLE), "--provider", "fake", "--wait"]
    assert _corral(create, env=env).returncode == 0
    changed = EXAMPLE.read_text().replace("MaxCount: 4", "MaxCount: 5", 1)
    update = _corral(["update-cluster", "-n", "demo", "-c", "-", "--dryrun", "true"], input=changed, env=env)
    assert "File not found" not in update.stdout
    assert "MaxCount" in update.stdout, update.stdout + update.stderr
    _corral(["delete-cluster", "-n", "demo", "--wait"], env=env)
