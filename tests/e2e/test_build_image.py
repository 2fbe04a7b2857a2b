"""``corral build-image`` on the local provider, through the CLI, with components from a real S3
server (moto on loopback): the build phase runs in a node booted from the parent, the result is
captured as a layer, the test phase runs in a fresh node booted from it; failures, timeouts, races,
bad input and a killed builder leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corral.images import ImageManifest
from corral.providers.local import _rootfs, images
from support.servers import s3_server

from .conftest import leftovers, unique_name, wait_until

BUCKET = "bi-components"
BUILD_TIMEOUT_S = 240.0

TOOLS = """\
name: LabTools
schemaVersion: 1.0
parameters:
  - Version: {type: string, default: "2.4"}
phases:
  - name: build
    steps:
      - name: InstallLabtool
        action: CreateFile
        inputs:
          - path: /usr/local/bin/labtool
            permissions: "0755"
            content: |
              #!/bin/sh
              echo "labtool {{ Version }} on $(hostname)"
      - name: Record
        action: ExecuteBash
        inputs:
          commands: ["echo tools {{ Version }} > /etc/lab-tools"]
  - name: validate
    steps:
      - name: Runs
        action: ExecuteBash
        inputs:
          commands: ["labtool"]
  - name: test
    steps:
      - name: Version
        action: ExecuteBash
        inputs:
          commands: ["labtool | grep -q 'labtool 2.4'"]
"""

RUNTIME = """\
name: ContainerRuntime
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Stage
        action: S3Download
        inputs:
          - source: s3://{bucket}/debs/{deb}
            destination: /var/tmp/debs/
      - name: Install
        action: ExecuteBash
        timeoutSeconds: 300
        inputs:
          commands: ["dpkg -i /var/tmp/debs/*.deb", "rm -rf /var/tmp/debs"]
  - name: test
    steps:
      - name: RuncWorks
        action: ExecuteBash
        inputs:
          commands: ["runc --version"]
"""

CONFIGURE = """\
#!/bin/bash
set -e
mkdir -p /etc/lab
echo "registry=lab.example" > /etc/lab/runtime.conf
"""


def bash_doc(step: str, commands: list[str], extra: str = "") -> bytes:
    """A one-step component document (an ExecuteBash step in the build phase)."""
    head = f"schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: {step}\n"
    return (
        head + f"        action: ExecuteBash\n{extra}        inputs:\n          commands: {commands!r}\n"
    ).encode()


def corral(*args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and done.returncode != 0:
        pytest.fail(f"corral {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    try:
        return json.loads(done.stdout) if check else done
    except ValueError:
        pytest.fail(f"corral {' '.join(args)} printed no JSON:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="module")
def official(prerequisites: None) -> ImageManifest:
    return images.ensure_official()


@pytest.fixture(scope="module")
def runc_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runc as a Debian package (its dependencies, libc6 and libseccomp2, are in the image)."""
    where = tmp_path_factory.mktemp("debs")
    done = subprocess.run(
        ["apt-get", "download", "runc"], cwd=where, capture_output=True, text=True, timeout=300
    )
    debs = list(where.glob("runc_*.deb"))
    if done.returncode != 0 or not debs:
        pytest.skip(f"cannot download the runc package with apt-get: {done.stderr.strip()[-200:]}")
    return debs[0]


@pytest.fixture(scope="module")
def s3(runc_deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    state = tmp_path_factory.mktemp("bi-state")
    with pytest.MonkeyPatch.context() as patch, s3_server(patch, BUCKET) as client:
        patch.setenv("CORRAL_STATE_DIR", str(state))
        client.put_object(Bucket=BUCKET, Key="tools.yaml", Body=TOOLS.encode())
        runtime = RUNTIME.replace("{bucket}", BUCKET).replace("{deb}", runc_deb.name)
        client.put_object(Bucket=BUCKET, Key="runtime.yaml", Body=runtime.encode())
        client.put_object(Bucket=BUCKET, Key="configure.sh", Body=CONFIGURE.encode())
        client.put_object(Bucket=BUCKET, Key=f"debs/{runc_deb.name}", Body=runc_deb.read_bytes())
        yield client


def write_config(path: Path, parent: str, components: list[str], extra: str = "") -> Path:
    lines = ["Build:", "  InstanceType: c5.xlarge", f"  ParentImage: {parent}", "  Components:"]
    for url in components:
        lines += ["    - Type: script", f"      Value: {url}"]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def wait_built(image_id: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        doc = corral("describe-image", "-i", image_id, env=env)
        return None if doc["imageBuildStatus"] == "BUILD_IN_PROGRESS" else doc

    return wait_until(settled, BUILD_TIMEOUT_S, f"the build of {image_id}", interval=0.5)  # type: ignore[return-value]


def image_leftovers(image_id: str, state: Path) -> list[str]:
    """Everything of image ``image_id`` still on the machine: its directory, its nodes' network
    namespaces, processes and mounts."""
    directory = state / "images" / image_id
    found = [f"directory {directory}"] if directory.exists() else []
    netns = "corral-img-" + hashlib.sha1(image_id.encode()).hexdigest()[:10]
    found += (
        [f"netns {n}" for n in os.listdir("/run/netns") if n.startswith(netns)]
        if os.path.isdir("/run/netns")
        else []
    )
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
            mounts = (entry / "mountinfo").read_text()
        except OSError:
            continue
        if str(directory) in argv:
            found.append(f"process {entry.name}: {argv}")
        if str(directory) in mounts:
            found.append(f"mounts of process {entry.name}")
    return found


def state_dir() -> Path:
    return Path(os.environ["CORRAL_STATE_DIR"])


def run_in_image(ami_id: str, tmp_path: Path, command: str) -> str:
    """Boot a machine from ``ami_id`` (as a cluster's node would, through ``resolve_image``) and
    run ``command`` in it."""
    from corral.providers.local import _image_nodes

    resolved = images.resolve_image(ami_id, state_dir())
    node = _image_nodes.boot(tmp_path / "nodes", "bi-probe", "probe", resolved.lowerdir)
    try:
        done = subprocess.run(node.argv("/bin/sh", "-c", command), capture_output=True, text=True, timeout=60)
        return done.stdout + done.stderr
    finally:
        _image_nodes.remove(tmp_path / "nodes" / "probe")


def test_a_lab_image_builds_passes_its_tests_and_boots_with_what_it_installed(
    official: ImageManifest, s3: Any, tmp_path: Path
) -> None:
    components = [f"s3://{BUCKET}/tools.yaml", f"s3://{BUCKET}/runtime.yaml", f"s3://{BUCKET}/configure.sh"]
    extra = "Image:\n  Name: bi-lab-image\n  Tags:\n    - Key: team\n      Value: lab\n"
    config = write_config(tmp_path / "image.yaml", official.ami_id, components, extra)
    started = time.monotonic()
    answer = corral("build-image", "-c", str(config), "-i", "bi-lab")
    assert answer["image"]["imageBuildStatus"] == "BUILD_IN_PROGRESS"
    assert time.monotonic() - started < 60  # returns at once, as pcluster's
    doc = wait_built("bi-lab")
    assert doc["imageBuildStatus"] == "BUILD_COMPLETE", doc.get("cloudformationStackStatusReason")
    ami = doc["ec2AmiInfo"]["amiId"]
    assert ami.startswith("ami-") and doc["ec2AmiInfo"]["amiName"] == "bi-lab-image"
    assert {"key": "team", "value": "lab"} in doc["ec2AmiInfo"]["tags"]
    assert doc["imagebuilderImageStatus"] == "AVAILABLE"
    listed = corral("list-images", "--image-status", "AVAILABLE")["images"]
    assert [i["imageId"] for i in listed] == ["bi-lab"]

    manifest = images.resolve_image(ami, state_dir()).manifest
    assert manifest.parent == official.ami_id and "runc" in manifest.packages
    # the test phase ran in a node booted from the new image
    stream = corral("list-image-log-streams", "-i", "bi-lab")["logStreams"][0]["logStreamName"]
    events = corral(
        "get-image-log-events", "-i", "bi-lab", "--log-stream-name", stream, "--start-from-head", "true"
    )
    text = "\n".join(e["message"] for e in events["events"])
    assert "test node booted" in text and "test/RuncWorks: completed" in text and "runc version" in text
    stack = corral("get-image-stack-events", "-i", "bi-lab")["events"]
    assert stack[0]["resourceStatus"] == "CREATE_COMPLETE"

    out = run_in_image(ami, tmp_path, "labtool; runc --version | head -1; cat /etc/lab/runtime.conf")
    assert "labtool 2.4" in out and "runc version" in out and "registry=lab.example" in out
    assert not Path("/usr/local/bin/labtool").exists() and not Path("/etc/lab/runtime.conf").exists()

    archive = corral("export-image-logs", "-i", "bi-lab", "--output-file", str(tmp_path))
    assert Path(archive["path"]).is_file()

    # an image built from a built image: three layers; a deletion in the middle one holds
    child_doc = bash_doc("Trim", ["labtool", "rm /etc/lab-tools", "echo child > /etc/lab-child"])
    s3.put_object(Bucket=BUCKET, Key="child.yaml", Body=child_doc)
    child_config = write_config(tmp_path / "child.yaml", ami, [f"s3://{BUCKET}/child.yaml"])
    child = corral(
        "build-image", "-c", str(child_config), "-i", "bi-lab-child", "--wait", timeout=BUILD_TIMEOUT_S
    )
    child_ami = child["ec2AmiInfo"]["amiId"]
    assert len(images.resolve_image(child_ami, state_dir()).layers) == 3
    out = run_in_image(
        child_ami, tmp_path, "labtool; cat /etc/lab-child; test -e /etc/lab-tools || echo trimmed"
    )
    assert "labtool 2.4" in out and "child" in out and "trimmed" in out
    refused = corral("delete-image", "-i", "bi-lab", check=False)
    assert refused.returncode != 0 and "bi-lab-child" in json.loads(refused.stdout)["message"]
    corral("delete-image", "-i", "bi-lab-child")
    corral("delete-image", "-i", "bi-lab")
    assert image_leftovers("bi-lab", state_dir()) == []
    assert corral("describe-image", "-i", "bi-lab", check=False).returncode != 0


def test_a_failing_step_fails_the_build_naming_component_step_and_output(
    official: ImageManifest, s3: Any, tmp_path: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key="fails.yaml", Body=bash_doc("Breaks", ["echo about to break", "exit 7"]))
    config = write_config(
        tmp_path / "image.yaml", official.ami_id, [f"s3://{BUCKET}/configure.sh", f"s3://{BUCKET}/fails.yaml"]
    )
    corral("build-image", "-c", str(config), "-i", "bi-fails")
    doc = wait_built("bi-fails")
    assert doc["imageBuildStatus"] == "BUILD_FAILED"
    reason = doc["cloudformationStackStatusReason"]
    assert f"component 2 (s3://{BUCKET}/fails.yaml)" in reason and "step Breaks" in reason
    assert "exited with status 7" in reason and "about to break" in reason
    assert "ec2AmiInfo" not in doc
    assert [i["imageId"] for i in corral("list-images", "--image-status", "FAILED")["images"]] == ["bi-fails"]
    # rolled back: only the record and the logs are left; delete removes them
    directory = state_dir() / "images" / "bi-fails"
    assert not (directory / "layer").exists() and not (directory / "nodes").exists()
    corral("delete-image", "-i", "bi-fails")
    assert image_leftovers("bi-fails", state_dir()) == []


def test_a_hanging_step_is_killed_at_its_timeout(official: ImageManifest, s3: Any, tmp_path: Path) -> None:
    hanging = bash_doc("Hangs", ["echo waiting", "sleep 600"], extra="        timeoutSeconds: 3\n")
    s3.put_object(Bucket=BUCKET, Key="hangs.yaml", Body=hanging)
    config = write_config(tmp_path / "image.yaml", official.ami_id, [f"s3://{BUCKET}/hangs.yaml"])
    started = time.monotonic()
    corral("build-image", "-c", str(config), "-i", "bi-hangs", "--rollback-on-failure", "false")
    doc = wait_built("bi-hangs")
    assert time.monotonic() - started < 90
    assert doc["imageBuildStatus"] == "BUILD_FAILED"
    assert "timed out after 3 s" in doc["cloudformationStackStatusReason"]
    # --rollback-on-failure false keeps the build node's writable layer to inspect, but no node runs
    assert _rootfs.machine_paths(state_dir() / "images" / "bi-hangs" / "nodes" / "build")["upper"].is_dir()
    assert [
        line for line in image_leftovers("bi-hangs", state_dir()) if not line.startswith("directory")
    ] == []
    corral("delete-image", "-i", "bi-hangs")
    assert image_leftovers("bi-hangs", state_dir()) == []


def test_bad_input_is_refused_before_anything_is_built(
    official: ImageManifest, s3: Any, tmp_path: Path
) -> None:
    s3.put_object(
        Bucket=BUCKET, Key="broken.yaml", Body=b"schemaVersion: 1.0\nphases:\n  - name: build\n    steps: [\n"
    )
    s3.put_object(
        Bucket=BUCKET,
        Key="noaction.yaml",
        Body=b"schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: A\n        inputs: {}\n",  # noqa: E501
    )
    cases = {
        "bi-bad-yaml": (
            [f"s3://{BUCKET}/broken.yaml"],
            official.ami_id,
            "component 1 (s3://bi-components/broken.yaml), line 5: not valid YAML",
        ),
        "bi-bad-step": (
            [f"s3://{BUCKET}/configure.sh", f"s3://{BUCKET}/noaction.yaml"],
            official.ami_id,
            "component 2 (s3://bi-components/noaction.yaml), line 5: phase 'build': a step has no 'action'",
        ),
        "bi-no-object": (
            [f"s3://{BUCKET}/missing.yaml"],
            official.ami_id,
            "component 1 (s3://bi-components/missing.yaml): cannot download",
        ),
        "bi-no-parent": (
            [f"s3://{BUCKET}/configure.sh"],
            "ami-0123456789abcdef0",
            "Build/ParentImage ami-0123456789abcdef0 cannot be used: no local image has the id",
        ),
    }
    for image_id, (components, parent, expected) in cases.items():
        config = write_config(tmp_path / f"{image_id}.yaml", parent, components)
        done = corral("build-image", "-c", str(config), "-i", image_id, check=False)
        assert done.returncode != 0
        assert expected in json.loads(done.stdout)["message"], done.stdout
        assert "Traceback" not in done.stderr
        assert image_leftovers(image_id, state_dir()) == []
    arn = "arn:aws:imagebuilder:us-east-1:aws:component/amazon-cloudwatch-agent-linux/1.0.1"
    config = tmp_path / "arn.yaml"
    build = f"Build:\n  InstanceType: c5.xlarge\n  ParentImage: {official.ami_id}\n"
    config.write_text(build + f"  Components:\n    - Type: arn\n      Value: {arn}\n")
    done = corral("build-image", "-c", str(config), "-i", "bi-arn", check=False)
    assert done.returncode != 0 and arn in json.loads(done.stdout)["message"]


def test_two_builds_of_one_id_race_and_one_wins(official: ImageManifest, s3: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "image.yaml", official.ami_id, [f"s3://{BUCKET}/configure.sh"])
    results: list[subprocess.CompletedProcess[str]] = []

    def build() -> None:
        results.append(corral("build-image", "-c", str(config), "-i", "bi-race", check=False))

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1, 1], [r.stdout for r in results]
    losers = [json.loads(r.stdout)["message"] for r in results if r.returncode]
    assert all(m == "Image with id 'bi-race' already exists." for m in losers)
    assert wait_built("bi-race")["imageBuildStatus"] == "BUILD_COMPLETE"
    corral("delete-image", "-i", "bi-race")
    assert image_leftovers("bi-race", state_dir()) == []


def test_kill_9_of_the_builder_mid_build_then_delete_image_leaves_nothing(
    official: ImageManifest, s3: Any, tmp_path: Path
) -> None:
    s3.put_object(
        Bucket=BUCKET, Key="slow.yaml", Body=bash_doc("Slow", ["touch /var/tmp/started", "sleep 600"])
    )
    config = write_config(tmp_path / "image.yaml", official.ami_id, [f"s3://{BUCKET}/slow.yaml"])
    corral("build-image", "-c", str(config), "-i", "bi-killed")
    directory = state_dir() / "images" / "bi-killed"
    upper = _rootfs.machine_paths(directory / "nodes" / "build")["upper"] / "var" / "tmp" / "started"
    wait_until(upper.exists, 90, "the build step to start")
    record = json.loads((directory / "image.json").read_text())
    os.kill(record["builder_pid"], signal.SIGKILL)
    wait_until(
        lambda: (
            not _rootfs.is_machine_init(record["builder_pid"])
            and not Path(f"/proc/{record['builder_pid']}").exists()
        ),
        10,
        "the builder to die",
    )
    doc = corral("describe-image", "-i", "bi-killed")
    assert (
        doc["imageBuildStatus"] == "BUILD_FAILED"
        and "ended without finishing" in doc["cloudformationStackStatusReason"]
    )
    assert any(
        line.startswith("process") or line.startswith("netns")
        for line in image_leftovers("bi-killed", state_dir())
    )
    corral("delete-image", "-i", "bi-killed")
    assert image_leftovers("bi-killed", state_dir()) == []


def test_the_image_verbs_through_a_corral_server(official: ImageManifest, s3: Any, tmp_path: Path) -> None:
    from unit.api.server import running_server

    with running_server(tmp_path / "server", provider="local") as server:
        env = server.env()
        config = write_config(tmp_path / "image.yaml", official.ami_id, [f"s3://{BUCKET}/configure.sh"])
        started = corral("build-image", "-c", str(config), "-i", "bi-remote", env=env)
        assert started["image"]["imageBuildStatus"] == "BUILD_IN_PROGRESS"
        assert wait_built("bi-remote", env=env)["imageBuildStatus"] == "BUILD_COMPLETE"
        listed = corral("list-images", "--image-status", "AVAILABLE", env=env)["images"]
        assert [i["imageId"] for i in listed] == ["bi-remote"]
        streams = corral("list-image-log-streams", "-i", "bi-remote", env=env)["logStreams"]
        stream = streams[0]["logStreamName"]
        assert "/" in stream  # pcluster's "<version>/1", sent as %2F
        args = [
            "get-image-log-events",
            "-i",
            "bi-remote",
            "--log-stream-name",
            stream,
            "--start-from-head",
            "true",
        ]
        events = corral(*args, env=env)["events"]
        assert any("BUILD COMPLETE" in e["message"] for e in events)
        stack = corral("get-image-stack-events", "-i", "bi-remote", env=env)["events"]
        assert stack[0]["resourceStatus"] == "CREATE_COMPLETE"
        deleted = corral("delete-image", "-i", "bi-remote", env=env)
        assert deleted["image"]["imageBuildStatus"] == "DELETE_IN_PROGRESS"
        assert image_leftovers("bi-remote", tmp_path / "server") == []


CLUSTER = """\
Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.large
  Networking:
    SubnetId: subnet-0123456789abcdef0
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: lab
      Image:
        CustomAmi: {ami}
      ComputeResources:
        - Name: c1
          InstanceType: c5.large
          MinCount: 1
          MaxCount: 2
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
LoginNodes:
  Pools:
    - Name: users
      InstanceType: c5.large
      Count: 1
      Image:
        CustomAmi: {ami}
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""


def _login_pool_active(name: str) -> bool:
    pools = corral("describe-cluster", "-n", name).get("loginNodes", [])
    return bool(pools) and pools[0]["status"] == "active" and pools[0]["healthyNodes"] == 1


def test_done_when_a_cluster_whose_queue_names_the_lab_image_runs_a_job_with_what_it_installed(
    official: ImageManifest, s3: Any, tmp_path: Path
) -> None:
    from corral.providers.local import LocalProvider

    components = [f"s3://{BUCKET}/tools.yaml", f"s3://{BUCKET}/runtime.yaml", f"s3://{BUCKET}/configure.sh"]
    config = write_config(tmp_path / "image.yaml", official.ami_id, components)
    doc = corral("build-image", "-c", str(config), "-i", "bi-lab-cluster", "--wait", timeout=BUILD_TIMEOUT_S)
    assert doc["imageBuildStatus"] == "BUILD_COMPLETE", doc.get("cloudformationStackStatusReason")
    ami = doc["ec2AmiInfo"]["amiId"]
    name = unique_name("bi")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(CLUSTER.format(ami=ami))
    provider = LocalProvider(state_dir())
    try:
        created = corral("create-cluster", "-n", name, "-c", str(cluster), "--wait", timeout=600)
        assert created["clusterStatus"] == "CREATE_COMPLETE", created
        job = "labtool; runc --version | head -1; cat /etc/lab/runtime.conf; sinfo --version"
        for node in ("lab-st-c1-1", "lab-dy-c1-1"):
            result = provider.run_on_head(name, ["srun", "-N1", "-w", node, "sh", "-c", job], timeout=180)
            out = result.stdout + result.stderr
            assert result.returncode == 0, out
            assert f"labtool 2.4 on {node}" in out and "runc version" in out and "registry=lab.example" in out
            assert "slurm-wlm 24.11" in out
        # the login pool names the image too: its node has what the components installed
        wait_until(lambda: _login_pool_active(name), 180, "the login pool serving", interval=0.5)
        login = corral("ssh", "-n", name, "--login-pool", "users", "--", job, check=False, timeout=120)
        assert login.returncode == 0, login.stdout + login.stderr
        assert "labtool 2.4 on ip-" in login.stdout and "runc version" in login.stdout, login.stdout
        assert "registry=lab.example" in login.stdout and "slurm-wlm 24.11" in login.stdout
        assert not Path("/usr/local/bin/labtool").exists() and not Path("/etc/lab/runtime.conf").exists()
        done = subprocess.run(["sh", "-c", "command -v runc"], capture_output=True, text=True, check=False)
        assert done.returncode != 0, "the host must not have runc"
        refused = corral("delete-image", "-i", "bi-lab-cluster", check=False)
        assert refused.returncode != 0 and name in json.loads(refused.stdout)["message"]
    finally:
        corral("delete-cluster", "-n", name, "--wait", check=False, timeout=600)
        assert leftovers(provider, name) == []
    corral("delete-image", "-i", "bi-lab-cluster")
    assert image_leftovers("bi-lab-cluster", state_dir()) == []


def test_build_nodes_reach_debians_archive_through_nat_and_update_the_os(
    official: ImageManifest, s3: Any, tmp_path: Path
) -> None:
    """UpdateOsPackages and a component's apt-get install run in a build node that reaches
    Debian's archive through the build's NAT; the package is in the image, and the host's rules
    tagged with the build's id go with the build."""
    from corral.providers.local import _image_nodes, _nat

    install = bash_doc("Hello", ["apt-get update", "apt-get install -y --no-install-recommends hello"])
    s3.put_object(Bucket=BUCKET, Key="hello.yaml", Body=install)
    extra = "  UpdateOsPackages:\n    Enabled: true\n"
    config = write_config(tmp_path / "image.yaml", official.ami_id, [f"s3://{BUCKET}/hello.yaml"], extra)
    doc = corral("build-image", "-c", str(config), "-i", "bi-apt", "--wait", timeout=BUILD_TIMEOUT_S)
    assert doc["imageBuildStatus"] == "BUILD_COMPLETE", doc
    stream = corral("list-image-log-streams", "-i", "bi-apt")["logStreams"][0]["logStreamName"]
    log = json.dumps(
        corral("get-image-log-events", "-i", "bi-apt", "--log-stream-name", stream, "--limit", "10000")
    )
    assert "UpdateOsPackages" in log and "Setting up hello" in log
    manifest = images.resolve_image(doc["ec2AmiInfo"]["amiId"], state_dir()).manifest
    assert "hello" in manifest.packages
    assert run_in_image(doc["ec2AmiInfo"]["amiId"], tmp_path, "hello") == "Hello, world!\n"
    assert _nat.tagged_rules("bi-apt") == []  # the build ended: its NAT went with its nodes
    corral("delete-image", "-i", "bi-apt")
    assert image_leftovers("bi-apt", state_dir()) == []
    veths = {_nat.build_host_if(_image_nodes.netns_name("bi-apt", role)) for role in ("build", "test")}
    assert not veths & set(os.listdir("/sys/class/net"))
