"""The one end-to-end cluster harness: real local clusters, made and removed the same way by every
end-to-end test (tests/e2e/conftest.py re-exports it and adds the fixtures).

- ``unique_name(prefix)``: a cluster name no other test (or xdist worker) uses. The local provider
  gives each cluster its own subnet (a host-wide registry), so clusters of parallel tests never meet.
- ``cluster_yaml(queues, os=, slurm_settings=, head=, queue_settings=)``: the small cluster config
  the tests write (one subnet, c5.large everywhere); ``queues`` are (queue, compute resource,
  MinCount, MaxCount).
- ``Corral(state_dir, env=, unset=)``: ``corral`` as a user runs it, over one state directory.
  ``corral(*args, check=, stdin=)`` runs a verb; ``corral.json(*args)`` its JSON answer;
  ``corral.with_env(**extra)`` the same CLI with more environment; ``corral.create(name, config)``
  is ``create-cluster --wait`` (it returns when Corral's own state says the create finished);
  ``corral.delete(name)`` is ``delete-cluster --wait`` and asserts nothing of the cluster is left;
  ``with corral.cluster(config, prefix) as name:`` does all of it around a block;
  ``corral.assert_gone(name)`` checks a cluster some command deleted by itself (nothing left, not
  listed); ``corral.sweep()`` deletes whatever a failed test left in the state directory.
- ``api_cluster(api, state_dir, name, config)``: the same through the REST API (POST, wait for
  Corral's status, DELETE, wait for 404, nothing left).
- ``local_cluster(provider, plan)``: the same around a block for tests that drive a
  ``LocalProvider`` directly (create, yield the name, ``delete_and_check``).
- ``wait_until(condition, timeout, what)``: poll Corral's (or Slurm's) own state, never a guessed sleep.
- ``leftovers(provider, name)`` / ``delete_and_check(provider, name)``: what of a cluster is still on
  the machine (namespaces, processes, mounts, directories), and a delete that asserts it is nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from corral.plan import ClusterPlan
from corral.providers.base import EventSink
from corral.providers.local import LocalProvider, _volumes

#: idle dynamic nodes power down after this many seconds in end-to-end clusters
SCALEDOWN_SECONDS = "4"
SUBNET_ID = "subnet-0123456789abcdef0"
#: (queue, compute resource, MinCount, MaxCount)
Queue = tuple[str, str, int, int]


def unique_name(prefix: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    return f"{prefix}-{worker}-{secrets.token_hex(3)}"


def cluster_yaml(
    queues: Sequence[Queue] = (("q1", "c1", 1, 1),),
    *,
    os: str = "alinux2023",
    slurm_settings: Mapping[str, Any] | None = None,
    head: Mapping[str, Any] | None = None,
    queue_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """A cluster config as the end-to-end tests write it. ``head`` adds keys to HeadNode (e.g.
    CustomActions), ``queue_settings`` keys to the named queues, ``slurm_settings`` to SlurmSettings."""
    slurm: dict[str, Any] = {"Scheduler": "slurm"}
    if slurm_settings:
        slurm["SlurmSettings"] = dict(slurm_settings)
    slurm["SlurmQueues"] = [
        {
            "Name": queue,
            **dict((queue_settings or {}).get(queue, {})),
            "ComputeResources": [
                {"Name": resource, "InstanceType": "c5.large", "MinCount": low, "MaxCount": high}
            ],
            "Networking": {"SubnetIds": [SUBNET_ID]},
        }
        for queue, resource, low, high in queues
    ]
    config = {
        "Region": "us-east-1",
        "Image": {"Os": os},
        "HeadNode": {"InstanceType": "c5.large", "Networking": {"SubnetId": SUBNET_ID}, **dict(head or {})},
        "Scheduling": slurm,
    }
    return yaml.safe_dump(config, sort_keys=False)


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


#: what a node behind the cluster's NAT reaches when this machine does: Debian's archive
ARCHIVE = ("deb.debian.org", 80)


def archive_address() -> str:
    """The archive's address, when this machine reaches it (else the test skips: it cannot say
    anything about NAT here)."""
    import socket

    try:
        address = socket.gethostbyname(ARCHIVE[0])
        socket.create_connection((address, ARCHIVE[1]), timeout=5).close()
    except OSError as exc:
        pytest.skip(f"this machine does not reach {ARCHIVE[0]}:{ARCHIVE[1]} ({exc})")
    return address


def archive_probe(address: str) -> str:
    """A bash command that prints the first line of the archive's HTTP answer (no DNS needed)."""
    request = f"HEAD /debian/ HTTP/1.0\\r\\nHost: {ARCHIVE[0]}\\r\\n\\r\\n"
    return f"exec 3<>/dev/tcp/{address}/80 && printf '{request}' >&3 && head -1 <&3"


def leftovers(provider: LocalProvider, name: str) -> list[str]:
    """Everything of cluster ``name`` still on the machine: namespaces, processes, mounts, loop
    devices, files."""
    layout = provider.layout(name)
    markers = (str(layout.root), str(layout.run_dir))
    found = (
        [f"netns {ns}" for ns in os.listdir("/run/netns") if ns.startswith(f"corral-{name}-")]
        if (os.path.isdir("/run/netns"))
        else []
    )
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        # whole paths only: clusters/lab is no prefix match for clusters/lab0's processes
        if any(_names_path(token, m) for token in [*argv, cwd] for m in markers):
            found.append(f"process {entry.name}: {' '.join(argv).strip()} (cwd {cwd})")
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if any(_names_path(field, m) for field in line.split() for m in markers) or f"corral-{name}-" in line:
            found.append(f"mount {line}")
    for entry in Path("/sys/block").glob("loop*"):
        backing = _volumes.backing_file(entry.name) or ""
        if any(_names_path(backing, m) for m in (str(layout.root), str(layout.retained_dir))):
            found.append(f"loop device /dev/{entry.name} ({backing})")
    if layout.root.exists():
        found.append(f"directory {layout.root}")
    if layout.run_dir.exists():
        found.append(f"directory {layout.run_dir}")
    return found


def _names_path(token: str, path: str) -> bool:
    return token == path or f"{path}/" in token or token.endswith(f"={path}")


def delete_and_check(provider: LocalProvider, name: str) -> None:
    provider.delete(name)
    assert leftovers(provider, name) == []
    assert not provider.exists(name)


def _quiet(_resource: str, _message: str) -> None:
    pass


@contextmanager
def local_cluster(provider: LocalProvider, plan: ClusterPlan, on_event: EventSink = _quiet) -> Iterator[str]:
    """Create ``plan`` with ``provider`` (name it with ``unique_name``), yield its name, then delete
    it and assert nothing is left, whatever happened inside (a failed create is deleted too)."""
    try:
        provider.create(plan, on_event=on_event)
        yield plan.name
    finally:
        delete_and_check(provider, plan.name)


class Corral:
    """``corral`` as a user runs it (the installed console script) over one state directory.
    Config files it writes go next to the state directory, named after the cluster."""

    def __init__(
        self,
        state_dir: Path,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
        unset: Sequence[str] = (),
    ) -> None:
        self.state_dir = Path(state_dir)
        self.extra_env = dict(env or {})
        self.unset = tuple(unset)
        self.timeout = timeout
        self.program = str(Path(sys.executable).with_name("corral"))

    @property
    def env(self) -> dict[str, str]:
        """The environment of each call: the test's own (read at the call, so a monkeypatched
        variable counts), plus ``env``, less ``unset``, with this state directory."""
        merged = {**os.environ, **self.extra_env, "CORRAL_STATE_DIR": str(self.state_dir)}
        return {key: value for key, value in merged.items() if key not in self.unset}

    @property
    def provider(self) -> LocalProvider:
        """A local provider over the same state directory (for ``leftovers``, ``run_on_head``)."""
        return LocalProvider(self.state_dir)

    def with_env(self, **extra: str) -> Corral:
        return Corral(self.state_dir, {**self.extra_env, **extra}, self.timeout, self.unset)

    def __call__(
        self,
        *args: str,
        check: bool = True,
        stdin: str | None = None,
        timeout: float | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.program, *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout or self.timeout,
            cwd=cwd,
        )
        if check:
            assert result.returncode == 0, f"corral {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result

    def json(self, *args: str, check: bool = True, stdin: str | None = None) -> Any:
        return json.loads(self(*args, check=check, stdin=stdin).stdout)

    def config(self, text: str, name: str) -> Path:
        """Write config ``text`` to a file named after ``name``, next to the state directory."""
        path = self.state_dir.parent / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def create(
        self, name: str, config: str | Path, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``create-cluster --wait`` (``config``: a file, or YAML text written to one)."""
        path = config if isinstance(config, Path) else self.config(config, name)
        return self("create-cluster", "-c", str(path), "-n", name, "--wait", *args, check=check)

    def delete(self, name: str, *, check: bool = False) -> None:
        """``delete-cluster --wait``, then assert nothing of the cluster is left on the machine."""
        self("delete-cluster", "-n", name, "--wait", check=check)
        assert leftovers(self.provider, name) == []

    def assert_gone(self, name: str) -> None:
        """Nothing of cluster ``name`` on the machine, and no record of it (for tests whose command
        deletes the cluster itself, as ``corral run`` does)."""
        assert leftovers(self.provider, name) == []
        assert name not in [c["clusterName"] for c in self.json("list-clusters")["clusters"]]

    def sweep(self) -> None:
        """Delete every cluster still in the state directory (a failed test must not leave one
        running) and check nothing of it is left: the teardown of tests whose commands make and
        delete clusters themselves."""
        clusters = self.state_dir / "clusters"
        provider = self.provider
        for cluster in sorted(clusters.iterdir()) if clusters.exists() else []:
            delete_and_check(provider, cluster.name)

    @contextmanager
    def cluster(self, config: str | Path, prefix: str, *args: str) -> Iterator[str]:
        """A cluster made by ``create`` (``args`` go to create-cluster) for the block, then
        ``delete``d, whatever happened inside."""
        name = unique_name(prefix)
        try:
            self.create(name, config, *args)
            yield name
        finally:
            self.delete(name)


@contextmanager
def api_cluster(api: httpx.Client, state_dir: Path, name: str, config: str) -> Iterator[httpx.Response]:
    """The same through the REST API (``api``: a client of ``corral api serve`` over ``state_dir``):
    POST /v3/clusters, wait until Corral's own status leaves CREATE_IN_PROGRESS, yield the POST's
    answer; then DELETE, wait for 404 and assert nothing of the cluster is left."""
    try:
        made = api.post("/v3/clusters", json={"clusterName": name, "clusterConfiguration": config})
        assert made.status_code == 202, made.text

        def created() -> bool:
            answer = api.get(f"/v3/clusters/{name}")
            assert answer.status_code == 200, answer.text
            return bool(answer.json()["clusterStatus"] != "CREATE_IN_PROGRESS")

        wait_until(created, 600, "the create to finish", 1)
        yield made
    finally:
        gone = api.delete(f"/v3/clusters/{name}")
        assert gone.status_code in (202, 404), gone.text
        wait_until(lambda: api.get(f"/v3/clusters/{name}").status_code == 404, 600, "the delete", 1)
        assert leftovers(LocalProvider(state_dir), name) == []
