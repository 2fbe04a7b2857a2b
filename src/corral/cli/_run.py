"""``corral run``: parse the jobs and flags, run ``WorkloadRun`` with signals turned into a clean
teardown, print the summary (or JSON, or a JUnit report), exit with the workload's status."""

from __future__ import annotations

import json
import re
import secrets
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any
from xml.etree import ElementTree

from corral.cli._commands import make_service
from corral.errors import BadRequestError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: Without --timeout the cluster lives at most this long; with it, the timeout plus this margin.
DEFAULT_TTL_S = 6 * 3600.0
TTL_MARGIN_S = 900.0
OUTPUT_TAIL_CHARS = 64 * 1024


def parse_duration(text: str, flag: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` → seconds; a clear error otherwise."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise BadRequestError(
            f"{flag} {text!r} is not a duration", hint=f"use seconds or a unit: {flag} 90, 15m, 2h"
        )
    return float(match.group(1)) * _UNIT_S[match.group(2)]


class Signals:
    """SIGINT, SIGTERM and SIGHUP raise ``RunInterrupted`` once (the run then tears down); later
    ones are reported and ignored, so the teardown itself is never cut short."""

    NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}

    def __init__(self) -> None:
        self.received: str = ""
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Signals:
        for signum in self.NAMES:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        from corral.service._run import RunInterrupted

        name = self.NAMES.get(signal.Signals(signum), str(signum))
        if self.received:
            print(
                f"corral run: {name} received; still tearing down the cluster, please wait", file=sys.stderr
            )
            return
        self.received = name
        raise RunInterrupted(name)


def run(
    *,
    cluster_configuration: str,
    cluster_name: str | None,
    provider: str,
    jobs: tuple[str, ...],
    wrap: tuple[str, ...],
    stage: tuple[str, ...],
    collect: tuple[str, ...],
    to: str | None,
    timeout: str | None,
    ttl: str | None,
    keep: bool,
    as_json: bool,
    junit: str | None,
    suppress_validators: tuple[str, ...],
    validation_failure_level: str,
) -> None:
    from corral.config.findings import Level
    from corral.service._run import JobRequest, RunRequest, RunUi, Stage, WorkloadRun
    from corral.service._validate import check_name

    requests = [JobRequest.from_file(path) for path in jobs]
    requests += [JobRequest.wrap(command, i) for i, command in enumerate(wrap, start=1)]
    if not requests:
        raise BadRequestError(
            "no job to run", hint="give batch scripts (corral run -c FILE job.sbatch) or --wrap 'CMD'"
        )
    timeout_s = parse_duration(timeout, "--timeout") if timeout else None
    ttl_s = (
        parse_duration(ttl, "--ttl") if ttl else (timeout_s + TTL_MARGIN_S if timeout_s else DEFAULT_TTL_S)
    )
    if timeout_s is not None and ttl_s <= timeout_s:
        raise BadRequestError(
            f"--ttl ({ttl_s:g} s) must be longer than --timeout ({timeout_s:g} s)",
            hint="the time-to-live is the safety net behind the timeout",
        )
    name = cluster_name or f"run-{secrets.token_hex(3)}"
    check_name(name, "cluster-name")
    request = RunRequest(
        cluster_name=name,
        config_path=cluster_configuration,
        provider=provider,
        jobs=tuple(requests),
        stages=tuple(Stage.parse(s) for s in stage),
        collect=collect,
        to=to,
        timeout_s=timeout_s,
        ttl_s=ttl_s,
        keep=keep,
        suppress=suppress_validators,
        failure_level=Level[validation_failure_level],
    )
    tails: dict[str, str] = {}
    ui = RunUi(
        progress=_progress,
        output=_output_printer(len(requests) > 1, sys.stderr if as_json else sys.stdout, tails),
        event=_event,
    )
    workload = WorkloadRun(make_service(), request, ui)
    workload.validate()  # a config or request that fails here creates nothing (pcluster's JSON error)
    with Signals():
        report = workload.run()
    if junit:
        _write_junit(report, tails, junit)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(_summary(report))
    sys.exit(report.exit_code)


def _progress(line: str) -> None:
    print(f"corral run: {line}", file=sys.stderr, flush=True)


def _event(event: Any) -> None:
    reason = f" {event.reason}" if event.reason else ""
    _progress(f"{event.logical_resource_id} {event.resource_status}{reason}")


def _output_printer(prefix: bool, stream: Any, tails: dict[str, str]) -> Callable[[str, str], None]:
    def output(label: str, text: str) -> None:
        tails[label] = (tails.get(label, "") + text)[-OUTPUT_TAIL_CHARS:]
        if prefix:
            text = "".join(f"[{label}] {line}" for line in text.splitlines(keepends=True))
        stream.write(text)
        stream.flush()

    return output


def _seconds(value: object) -> str:
    return "-" if value is None else f"{value} s"


def _summary(report: Any) -> str:
    doc = report.to_json()
    lines = [f"corral run: cluster {doc['clusterName']} ({doc['provider']}): exit {doc['exitCode']}"]
    if doc["failure"]:
        lines.append(f"  failure: {doc['failure']}")
    header = ("JOB", "JOBID", "STATE", "EXIT", "QUEUED", "RAN", "NODES")
    rows = [header] + [
        (
            j["job"],
            j["jobId"] or "-",
            j["state"],
            str(j["exitCode"]),
            _seconds(j["queuedSeconds"]),
            _seconds(j["runSeconds"]),
            j["nodes"] or "-",
        )
        for j in doc["jobs"]
    ]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines += ["  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.append("  phases: " + ", ".join(f"{k} {v} s" for k, v in doc["phases"].items()))
    for item in doc["collected"]:
        lines.append(f"  collected: {item}")
    if doc["clusterKept"]:
        lines.append(f"  cluster kept: corral delete-cluster -n {doc['clusterName']} --wait")
    elif doc["clusterDeleted"]:
        lines.append("  cluster deleted")
    return "\n".join(lines)


def _write_junit(report: Any, tails: dict[str, str], path: str) -> None:
    """One ``<testsuite>`` with a ``<testcase>`` per job: failures carry the state, exit code and
    reason; the output tail goes to ``<system-out>``."""
    doc = report.to_json()
    failures = sum(1 for j in doc["jobs"] if not (j["state"] == "COMPLETED" and j["exitCode"] == 0))
    suite = ElementTree.Element(
        "testsuite",
        name=f"corral run {doc['clusterName']}",
        tests=str(len(doc["jobs"])),
        failures=str(failures),
        errors="1" if doc["failure"] and not failures else "0",
        time=str(sum(doc["phases"].values())),
    )
    for job in doc["jobs"]:
        case = ElementTree.SubElement(
            suite, "testcase", classname="corral.run", name=job["job"], time=str(job["runSeconds"] or 0)
        )
        if not (job["state"] == "COMPLETED" and job["exitCode"] == 0):
            reason = f"job {job['jobId'] or '(not submitted)'} {job['state']}, exit code {job['exitCode']}"
            if job["reason"]:
                reason += f": {job['reason']}"
            ElementTree.SubElement(case, "failure", message=reason).text = doc["failure"] or reason
        ElementTree.SubElement(case, "system-out").text = tails.get(job["job"], "")
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


__all__ = ["parse_duration", "run"]
