"""Batch jobs as Slurm sees them (pure): a script's ``#SBATCH`` options, ``scontrol -o show job`` parsed,
and what a job's state means for whoever waits on it (finished, still to come, or never to start).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from corral.slurm.status import parse_fields

#: States from which a job never runs again (Slurm's ``JOB_STATE_BASE`` past RUNNING).
FINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
    }
)

#: Pending reasons that no amount of waiting cures: the request can never be satisfied by the
#: partition as configured, or the job is held. (``Resources``, ``Priority``, ``BeginTime``,
#: ``ReqNodeNotAvail`` while nodes power up, ... are transient and are waited on.)
NEVER_STARTS = frozenset(
    {
        "PartitionNodeLimit",
        "PartitionTimeLimit",
        "PartitionConfig",
        "BadConstraints",
        "InvalidAccount",
        "InvalidQOS",
        "DependencyNeverSatisfied",
        "JobHeldUser",
        "JobHeldAdmin",
        "QOSMaxCpuPerJobLimit",
        "QOSMaxNodePerJobLimit",
        "AssocMaxCpuPerJobLimit",
        "AssocMaxNodePerJobLimit",
    }
)

SCONTROL_JOB_ARGV = ("scontrol", "-o", "show", "job")


def sbatch_options(script: str) -> list[str]:
    """The options of a batch script's ``#SBATCH`` lines, in order, as sbatch reads them: from the
    lines after the ``#!`` line up to the first line that is neither blank nor a comment."""
    options: list[str] = []
    for number, line in enumerate(script.splitlines()):
        stripped = line.strip()
        if number == 0 and stripped.startswith("#!"):
            continue
        if not stripped or (stripped.startswith("#") and not stripped.startswith("#SBATCH")):
            continue
        if not stripped.startswith("#SBATCH"):
            break
        body = stripped[len("#SBATCH") :].split(" #", 1)[0]
        try:
            options.extend(shlex.split(body))
        except ValueError:
            options.append(body.strip())
    return options


def sets_option(options: list[str], *names: str) -> bool:
    """Whether ``options`` set any of ``names`` (``-o``, ``--output``): ``--output=x``, ``--output x``,
    ``-o x`` and ``-ox`` alike."""
    for option in options:
        for name in names:
            if option == name or option.startswith(name + "="):
                return True
            if len(name) == 2 and name.startswith("-") and option.startswith(name) and len(option) > 2:
                return True
    return False


@dataclass(frozen=True)
class JobState:
    """One job as ``scontrol -o show job`` reports it."""

    job_id: str
    name: str
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, ...
    reason: str
    exit_code: int
    signal: int
    partition: str = ""
    nodes: str = ""
    stdout: str = ""
    stderr: str = ""
    work_dir: str = ""
    start_time: str = ""
    end_time: str = ""
    run_time: str = ""
    restarts: int = 0

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "COMPLETED" and self.exit_code == 0

    @property
    def never_starts(self) -> bool:
        """Pending for a reason that waiting cannot cure (see ``NEVER_STARTS``)."""
        return self.state == "PENDING" and self.reason.split(",")[0].strip() in NEVER_STARTS

    @property
    def status_code(self) -> int:
        """The exit status a shell would report: the job's exit code, else 128 + the signal that
        ended it, else 1 for a job that did not complete (cancelled before running, node failure)."""
        if self.exit_code:
            return self.exit_code
        if self.signal:
            return 128 + self.signal
        return 0 if self.state == "COMPLETED" else 1


def _exit_code(value: str) -> tuple[int, int]:
    code, _, signal = value.partition(":")
    try:
        return int(code or 0), int(signal or 0)
    except ValueError:
        return 0, 0


def _null(value: str) -> str:
    return "" if value in ("(null)", "None", "Unknown") else value


def parse_jobs(output: str) -> list[JobState]:
    """Every job of ``scontrol -o show job`` output (one job a line)."""
    jobs: list[JobState] = []
    for line in output.splitlines():
        fields = parse_fields(line.strip())
        if "JobId" not in fields:
            continue
        code, signal = _exit_code(fields.get("ExitCode", "0:0"))
        try:
            restarts = int(fields.get("Restarts", "0"))
        except ValueError:
            restarts = 0
        jobs.append(
            JobState(
                job_id=fields["JobId"],
                name=fields.get("JobName", ""),
                state=fields.get("JobState", "UNKNOWN").split()[0],
                reason=_null(fields.get("Reason", "")),
                exit_code=code,
                signal=signal,
                partition=_null(fields.get("Partition", "")),
                nodes=_null(fields.get("NodeList", "")),
                stdout=_null(fields.get("StdOut", "")),
                stderr=_null(fields.get("StdErr", "")),
                work_dir=_null(fields.get("WorkDir", "")),
                start_time=_null(fields.get("StartTime", "")),
                end_time=_null(fields.get("EndTime", "")),
                run_time=_null(fields.get("RunTime", "")),
                restarts=restarts,
            )
        )
    return jobs


__all__ = [
    "FINAL_STATES",
    "NEVER_STARTS",
    "SCONTROL_JOB_ARGV",
    "JobState",
    "parse_jobs",
    "sbatch_options",
    "sets_option",
]
