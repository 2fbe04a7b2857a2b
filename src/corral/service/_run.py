"""``corral run``: a throwaway cluster for one workload: create, stage, submit, stream, wait, collect,
delete, and the workload's exit status.

``WorkloadRun(service, request, ui).run()`` does the whole cycle in this process and always tears the
cluster down (``--keep`` keeps it only when something failed), on success, failure, ``--timeout``,
Ctrl-C, SIGTERM and SIGHUP. What survives ``kill -9`` of this process is covered from the cluster's own
side: the plan carries ``expires_at`` (``--ttl``) and the head node's reconciler deletes the cluster
once it has passed (``Provider.expire``).

Everything crosses to the cluster through ``Provider.run_on_head``, so it works the same on every
provider: scripts go to ``sbatch`` on stdin, files travel as base64 tar streams.
"""

from __future__ import annotations

import base64
import io
import shlex
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from corral.config.findings import Level
from corral.config.model import ClusterConfig
from corral.errors import BadRequestError, CorralError, RunInterrupted
from corral.providers.base import CommandResult
from corral.service._service import ClusterService
from corral.slurm.jobs import SCONTROL_JOB_ARGV, JobState, parse_jobs, sbatch_options, sets_option
from corral.state import StackEventRecord

#: Where jobs run (and ``--collect`` globs are relative to) unless a script sets ``--chdir``.
RUN_DIR_ROOT = "/home/corral-run"
POLL_S = 1.0
#: Staged and collected archives travel through the head node's stdin/stdout.
MAX_TRANSFER_BYTES = 256 * 1024 * 1024
#: The exit status of a run that hit --timeout (as timeout(1)), and of one that never got to run jobs.
TIMEOUT_EXIT = 124
#: An interrupted run exits 128 + the signal's number, as a shell reports a process the signal ended.
_SIGNALS = {"SIGHUP": 1, "SIGINT": 2, "SIGTERM": 15}
SETUP_FAILED_EXIT = 2


@dataclass(frozen=True)
class JobRequest:
    """One workload job: a batch script (its ``#SBATCH`` lines honoured) or a ``--wrap`` command."""

    label: str
    script: str

    @classmethod
    def wrap(cls, command: str, index: int) -> JobRequest:
        return cls(f"wrap-{index}", f"#!/bin/bash\n{command}\n")

    @classmethod
    def from_file(cls, path: str) -> JobRequest:
        file = Path(path)
        if not file.is_file():
            what = "a directory" if file.is_dir() else "not found"
            raise BadRequestError(
                f"job script {path}: {what}", hint="give a batch script file, or --wrap 'COMMAND'"
            )
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadRequestError(f"job script {path}: cannot read it: {exc}") from exc
        if not text.strip():
            raise BadRequestError(
                f"job script {path} is empty", hint="a batch script runs at least one command"
            )
        return cls(file.name, text if text.startswith("#!") else "#!/bin/bash\n" + text)


@dataclass(frozen=True)
class Stage:
    """``--stage LOCAL:REMOTE``: a file or directory copied into the cluster's shared storage."""

    local: Path
    remote: str

    @classmethod
    def parse(cls, text: str) -> Stage:
        local, sep, remote = text.rpartition(":")
        if not sep or not local or not remote.startswith("/"):
            raise BadRequestError(
                f"--stage {text!r}: expected LOCAL_PATH:/REMOTE/DIR",
                hint="for example --stage ./inputs:/home/data",
            )
        if not Path(local).exists():
            raise BadRequestError(f"--stage {text!r}: {local} does not exist")
        return cls(Path(local), remote)


@dataclass(frozen=True)
class RunRequest:
    cluster_name: str
    config_path: str
    provider: str
    jobs: tuple[JobRequest, ...]
    stages: tuple[Stage, ...] = ()
    collect: tuple[str, ...] = ()
    to: str | None = None  # a directory, or an s3://bucket/prefix
    timeout_s: float | None = None
    ttl_s: float = 3600.0
    keep: bool = False
    suppress: tuple[str, ...] = ()
    failure_level: Level = Level.ERROR


@dataclass
class JobResult:
    label: str
    job_id: str = ""
    state: str = "NOT_SUBMITTED"
    exit_code: int = 1
    reason: str = ""
    nodes: str = ""
    submitted: float = 0.0
    started: float | None = None
    ended: float | None = None
    stdout: str = ""
    stderr: str = ""
    work_dir: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "job": self.label,
            "jobId": self.job_id,
            "state": self.state,
            "exitCode": self.exit_code,
            "reason": self.reason,
            "nodes": self.nodes,
            "queuedSeconds": _round(self.started - self.submitted) if self.started else None,
            "runSeconds": _round(self.ended - self.started) if self.ended and self.started else None,
            "output": self.stdout,
        }


@dataclass
class RunReport:
    cluster_name: str
    provider: str
    jobs: list[JobResult] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    collected: list[str] = field(default_factory=list)
    failure: str = ""
    timed_out: bool = False
    interrupted: str = ""
    kept: bool = False
    deleted: bool = False
    exit_code: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "clusterName": self.cluster_name,
            "provider": self.provider,
            "exitCode": self.exit_code,
            "failure": self.failure,
            "timedOut": self.timed_out,
            "interrupted": self.interrupted,
            "clusterDeleted": self.deleted,
            "clusterKept": self.kept,
            "phases": {k: _round(v) for k, v in self.phases.items()},
            "jobs": [j.to_json() for j in self.jobs],
            "collected": list(self.collected),
        }


def _round(value: float) -> float:
    return round(value, 2)


@dataclass(frozen=True)
class RunUi:
    """Where a run reports: ``progress`` lines (stderr), job ``output`` chunks (label, text)."""

    progress: Callable[[str], None]
    output: Callable[[str, str], None]
    event: Callable[[StackEventRecord], None] | None = None


class WorkloadRun:
    """One ``corral run``: ``run()`` returns the report; the cluster is gone unless ``kept``."""

    def __init__(self, service: ClusterService, request: RunRequest, ui: RunUi) -> None:
        self.service, self.request, self.ui = service, request, ui
        self.report = RunReport(request.cluster_name, request.provider)
        self.report.jobs = [JobResult(j.label) for j in request.jobs]
        self.created = False
        self.run_dir = f"{RUN_DIR_ROOT}/{request.cluster_name}"
        self._offsets: dict[str, int] = {}

    # -- the cycle ----------------------------------------------------------------------------

    def run(self) -> RunReport:
        try:
            self._phase("create", self._create)
            if self.created:
                self._phase("stage", self._stage)
                self._phase("run", self._submit_and_wait)
        except RunInterrupted as exc:
            self.report.interrupted = exc.signal_name
            self._fail(f"interrupted by {exc.signal_name}")
            self._cancel_jobs()
        except KeyboardInterrupt:
            self.report.interrupted = "SIGINT"
            self._fail("interrupted by SIGINT (Ctrl-C)")
            self._cancel_jobs()
        except CorralError as exc:
            self._fail(exc.message + (f" ({exc.hint})" if exc.hint else ""))
            self._cancel_jobs()
        finally:
            self._finish()
        return self.report

    def _finish(self) -> None:
        if self.created:
            self._phase("collect", self._collect_safely)
        self.report.exit_code = self._exit_code()
        if not self.created:
            return
        if self.request.keep and self.report.exit_code != 0:
            self.report.kept = True
            self.ui.progress(
                f"keeping cluster {self.request.cluster_name} for debugging (--keep); delete it with:"
                f" corral delete-cluster -n {self.request.cluster_name} --wait"
            )
            return
        self._phase("delete", self._delete)

    def _phase(self, name: str, work: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            work()
        finally:
            self.report.phases[name] = self.report.phases.get(name, 0.0) + time.monotonic() - started

    def _fail(self, reason: str) -> None:
        if not self.report.failure:
            self.report.failure = reason
        self.ui.progress(f"error: {reason}")

    def _exit_code(self) -> int:
        if self.report.timed_out:
            return TIMEOUT_EXIT
        if self.report.interrupted:
            return 128 + _SIGNALS.get(self.report.interrupted, 2)
        for job in self.report.jobs:
            if job.job_id and job.ended is not None and not (job.state == "COMPLETED" and job.exit_code == 0):
                return job.exit_code or 1
        if self.report.failure:
            return SETUP_FAILED_EXIT
        return 0 if all(j.state == "COMPLETED" for j in self.report.jobs) else 1

    # -- create and delete --------------------------------------------------------------------

    def validate(self) -> None:
        """Validate the config and the request against it before ``run`` (nothing is created):
        ``ConfigError`` with the findings, ``BadRequestError`` for a request that cannot work."""
        req = self.request
        dry = self.service.dry_run_create(
            req.config_path,
            cluster_name=req.cluster_name,
            provider=req.provider,
            suppress=req.suppress,
            failure_level=req.failure_level,
        )
        for finding in dry.validation_messages:
            self.ui.progress(f"{finding.level.name}: {finding.location()}")
        if self.request.stages:
            from corral.config import load_cluster_config

            self._check_paths(load_cluster_config(req.config_path).config)

    def _create(self) -> None:
        req = self.request
        expires = datetime.now(UTC) + timedelta(seconds=req.ttl_s)
        self.service.create(
            req.cluster_name,
            req.config_path,
            provider=req.provider,
            suppress=req.suppress,
            failure_level=req.failure_level,
            expires_at=expires.isoformat(),
        )
        self.created = True
        if self.service.provider(req.provider).traits.enforces_expiry:
            self.ui.progress(
                f"creating cluster {req.cluster_name} ({req.provider}); it deletes itself after"
                f" {expires:%Y-%m-%d %H:%M:%S} UTC (--ttl) whatever happens to this process"
            )
        else:
            self.ui.progress(
                f"WARNING: creating cluster {req.cluster_name} ({req.provider}): this provider does not"
                " enforce --ttl yet; if this process is killed, delete the cluster yourself:"
                f" corral delete-cluster -n {req.cluster_name} --provider {req.provider}"
            )
        record = self.service.run_create(req.cluster_name, on_event=self.ui.event)
        if record.cluster_status != "CREATE_COMPLETE":
            # rolled back (or failed) already: nothing of it runs, nothing to submit to
            reason = record.failure_reason or record.stack_status.value
            raise CorralError(f"cluster {req.cluster_name} was not created: {reason}")

    def _check_paths(self, config: ClusterConfig) -> None:
        """``--stage`` destinations must be on storage the compute nodes share (``/home`` or a
        ``SharedStorage`` mount), else the jobs would not see the files."""
        shared = ["/home"] + [s.mount_dir for s in config.shared_storage or ()]
        for stage in self.request.stages:
            remote = PurePosixPath(stage.remote)
            if not any(remote == PurePosixPath(d) or PurePosixPath(d) in remote.parents for d in shared):
                raise BadRequestError(
                    f"--stage destination {stage.remote} is not on shared storage",
                    hint=f"stage into one of {', '.join(shared)} (what every node mounts)",
                )

    def _delete(self) -> None:
        name = self.request.cluster_name
        self.ui.progress(f"deleting cluster {name}")
        try:
            self.service.delete(name)
            left = self.service.run_delete(name, on_event=self.ui.event)
        except CorralError as exc:
            self._fail(f"deleting cluster {name} failed: {exc.message}")
            return
        if left is None:
            self.report.deleted = True
        else:
            self._fail(f"deleting cluster {name} failed: {left.failure_reason}")

    # -- talking to the head node -------------------------------------------------------------

    def _run_on_head(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float = 60.0
    ) -> CommandResult:
        """``argv`` on the cluster's head node, through its provider; the result as it is."""
        record = self.service.get(self.request.cluster_name)
        return self.service.provider(record.provider).run_on_head(
            record.name, list(argv), stdin=stdin, timeout=timeout
        )

    def _head(self, argv: Sequence[str], *, stdin: str | None = None, timeout: float = 120.0) -> str:
        """``_run_on_head``'s stdout; ``CorralError`` with its stderr when it fails."""
        result = self._run_on_head(argv, stdin=stdin, timeout=timeout)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise CorralError(f"{shlex.join(argv[:2])} on the head node failed: {detail}")
        return result.stdout

    def _stage(self) -> None:
        self._head(["mkdir", "-p", self.run_dir])
        for stage in self.request.stages:
            payload = _tar_base64(stage.local)
            self.ui.progress(
                f"staging {stage.local} -> {stage.remote} ({len(payload) * 3 // 4} bytes packed)"
            )
            script = 'mkdir -p "$1" && base64 -d | tar -xzf - -C "$1"'
            self._head(["bash", "-c", script, "stage", stage.remote], stdin=payload, timeout=600)

    # -- jobs ---------------------------------------------------------------------------------

    def _submit_and_wait(self) -> None:
        for request, result in zip(self.request.jobs, self.report.jobs, strict=True):
            options = sbatch_options(request.script)
            argv = ["sbatch", "--parsable"]
            if not sets_option(options, "-D", "--chdir"):
                argv.append(f"--chdir={self.run_dir}")
            if not sets_option(options, "-J", "--job-name"):
                argv.append(f"--job-name={request.label}")
            done = self._run_on_head(argv, stdin=request.script)
            if done.returncode != 0:
                result.state, result.reason = "REJECTED", done.stderr.strip() or done.stdout.strip()
                raise CorralError(f"sbatch refused job {request.label}: {result.reason}")
            result.job_id = done.stdout.strip().split(";")[0]
            result.submitted, result.state = time.monotonic(), "PENDING"
            self.ui.progress(f"submitted {request.label} as job {result.job_id}")
        self._wait()

    def _wait(self) -> None:
        deadline = None if self.request.timeout_s is None else time.monotonic() + self.request.timeout_s
        while True:
            states = {j.job_id: j for j in parse_jobs(self._head(SCONTROL_JOB_ARGV))}
            for result in self.report.jobs:
                self._observe(result, states.get(result.job_id))
            if all(r.ended is not None for r in self.report.jobs):
                return
            stuck = [r for r in self.report.jobs if (s := states.get(r.job_id)) and s.never_starts]
            if stuck:
                raise CorralError(
                    "job "
                    + ", ".join(f"{r.label} ({r.job_id}) pending: {r.reason}" for r in stuck)
                    + " can never start on this cluster",
                    hint="fix the job's request (nodes, time limit, partition) or the cluster config",
                )
            if deadline is not None and time.monotonic() > deadline:
                self.report.timed_out = True
                raise CorralError(f"--timeout of {self.request.timeout_s:g} s reached; jobs cancelled")
            time.sleep(POLL_S)

    def _observe(self, result: JobResult, state: JobState | None) -> None:
        if state is None or result.ended is not None:
            return
        if state.state != result.state:
            self.ui.progress(f"job {result.label} ({result.job_id}) {state.state}" + _why(state))
        result.state, result.reason, result.nodes = state.state, state.reason, state.nodes
        result.stdout, result.stderr, result.work_dir = state.stdout, state.stderr, state.work_dir
        if state.state != "PENDING" and result.started is None:
            result.started = time.monotonic()
        self._stream(result)
        if state.finished:
            result.ended = time.monotonic()
            result.exit_code = state.status_code
            self._stream(result)

    def _stream(self, result: JobResult) -> None:
        """Send what the job wrote since the last look to ``ui.output`` (its StdOut file, read on the
        head node, which mounts the job's shared working directory)."""
        if not result.stdout or result.started is None:
            return
        offset = self._offsets.get(result.job_id, 0)
        script = 'test -f "$2" || exit 0; tail -c +"$1" "$2" | head -c 1048576 | base64 -w0'
        done = self._run_on_head(["bash", "-c", script, "stream", str(offset + 1), result.stdout])
        if done.returncode != 0 or not done.stdout.strip():
            return
        chunk = base64.b64decode(done.stdout.strip())
        self._offsets[result.job_id] = offset + len(chunk)
        self.ui.output(result.label, chunk.decode("utf-8", errors="replace"))

    def _cancel_jobs(self) -> None:
        ids = [r.job_id for r in self.report.jobs if r.job_id and r.ended is None]
        if not ids or not self.created:
            return
        try:
            self._head(["scancel", *ids], timeout=30)
            self.ui.progress(f"cancelled job(s) {', '.join(ids)}")
        except CorralError as exc:
            self.ui.progress(f"could not cancel job(s) {', '.join(ids)}: {exc.message}")
        for result in self.report.jobs:
            if result.job_id and result.ended is None:
                result.state, result.ended = "CANCELLED", time.monotonic()
                result.exit_code = TIMEOUT_EXIT if self.report.timed_out else 1

    # -- collecting ---------------------------------------------------------------------------

    def _collect_safely(self) -> None:
        try:
            self._collect()
        except CorralError as exc:
            self._fail(f"collecting outputs failed: {exc.message}")

    def _collect(self) -> None:
        failed = self._exit_code() != 0
        target = self.request.to or (f"corral-run-{self.request.cluster_name}" if failed else None)
        if target is None:
            return
        if self.request.collect:
            self.report.collected += _deliver(self._fetch(list(self.request.collect)), target)
        if failed:  # the jobs' own output files, and the cluster's logs, into the same place
            self.report.collected += self._collect_job_logs(target)
            name = self.request.cluster_name
            if target.startswith("s3://"):
                bucket, _, prefix = target[len("s3://") :].partition("/")
                exported = self.service.export_logs(name, bucket=bucket, bucket_prefix=prefix or None)
            else:
                Path(target).mkdir(parents=True, exist_ok=True)
                exported = self.service.export_logs(name, output_file=str(Path(target).resolve()))
            self.report.collected.append(exported.s3_url or exported.path or exported.url or "")
        for item in self.report.collected:
            self.ui.progress(f"collected {item}")

    def _collect_job_logs(self, target: str) -> list[str]:
        """Each job's StdOut/StdErr file as ``jobs/<job>-<id>.out|.err`` under ``target``."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for job in self.report.jobs:
                for suffix, path in (("out", job.stdout), ("err", job.stderr)):
                    if not path or (suffix == "err" and path == job.stdout):
                        continue
                    data = self._read_head_file(path)
                    if data is None:
                        continue
                    info = tarfile.TarInfo(f"jobs/{job.label}-{job.job_id}.{suffix}")
                    info.size, info.mtime = len(data), int(time.time())
                    tar.addfile(info, io.BytesIO(data))
        return _deliver(buffer.getvalue(), target)

    def _read_head_file(self, path: str) -> bytes | None:
        script = 'test -f "$1" || exit 3; head -c 67108864 "$1" | base64 -w0'
        done = self._run_on_head(["bash", "-c", script, "read", path], timeout=300)
        return base64.b64decode(done.stdout.strip()) if done.returncode == 0 else None

    def _fetch(self, patterns: list[str]) -> bytes:
        """A tar.gz of the files matching ``patterns`` on the head node: absolute globs as they are,
        relative ones in the run directory and in every job's working directory."""
        dirs = list(dict.fromkeys([self.run_dir, *(r.work_dir for r in self.report.jobs if r.work_dir)]))
        script = (
            'shopt -s nullglob globstar; dirs=(); while [ "$1" != -- ]; do dirs+=("$1"); shift; done;'
            ' shift; args=(); for d in / "${dirs[@]}"; do cd "$d" 2>/dev/null || continue; got=();'
            ' for p in "$@"; do case "$p" in /*) [ "$d" = / ] || continue;;'
            ' *) [ "$d" != / ] || continue;; esac;'
            ' for f in $p; do [ -f "$f" ] && got+=("${f#/}"); done; done;'
            ' [ ${#got[@]} -gt 0 ] && args+=(-C "$d" "${got[@]}"); done;'
            ' [ ${#args[@]} -gt 0 ] || exit 0; tar -czf - "${args[@]}" | base64 -w0'
        )
        argv = ["bash", "-c", script, "collect", *dirs, "--", *patterns]
        out = self._head(argv, timeout=600)
        return base64.b64decode(out.strip()) if out.strip() else b""


def _why(state: JobState) -> str:
    if state.state == "PENDING" and state.reason and state.reason != "None":
        return f" ({state.reason})"
    if state.finished:
        return f" (exit {state.status_code})"
    return ""


def _tar_base64(path: Path) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                tar.add(child, arcname=child.name)
        else:
            tar.add(path, arcname=path.name)
    if buffer.tell() > MAX_TRANSFER_BYTES:
        raise BadRequestError(
            f"--stage {path}: {buffer.tell()} bytes packed, over the {MAX_TRANSFER_BYTES} byte limit",
            hint="stage large data through shared storage with a data repository (s3://) instead",
        )
    return base64.b64encode(buffer.getvalue()).decode()


def _deliver(archive: bytes, target: str) -> list[str]:
    """Unpack ``archive`` into directory ``target`` or upload its files under ``s3://bucket/prefix``;
    what was written."""
    if not archive:
        return []
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        if not target.startswith("s3://"):
            Path(target).mkdir(parents=True, exist_ok=True)
            members = [m for m in tar.getmembers() if m.isfile()]
            tar.extractall(target, filter="data")
            return [str(Path(target) / m.name) for m in members]
        return _upload(tar, target)


def _upload(tar: tarfile.TarFile, target: str) -> list[str]:
    import tempfile

    from corral.providers.s3 import upload

    bucket, _, prefix = target[len("s3://") :].partition("/")
    written: list[str] = []
    with tempfile.TemporaryDirectory(prefix="corral-run-") as tmp:
        tar.extractall(tmp, filter="data")
        for file in sorted(p for p in Path(tmp).rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{file.relative_to(tmp)}".lstrip("/")
            upload(file, bucket, key)
            written.append(f"s3://{bucket}/{key}")
    return written


__all__ = [
    "RUN_DIR_ROOT",
    "JobRequest",
    "JobResult",
    "RunInterrupted",
    "RunReport",
    "RunRequest",
    "RunUi",
    "Stage",
    "WorkloadRun",
]
