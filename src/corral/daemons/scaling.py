"""ParallelCluster's scaling strategies, decided purely: what to launch, and what to keep.

Slurm gives the ResumeProgram a hostlist and, since 22.05, ``SLURM_RESUME_FILE``: a JSON document
with every node to power up and, per job, the job's nodes among them (22.05: ``all_nodes`` and
``jobs[].nodes``; 23.02+: ``all_nodes_resume`` and ``jobs[].nodes_resume``).
ParallelCluster (3.8+) scales per job with it ("job-level scaling"), in two steps, each either
all-or-nothing or best-effort:

- *launch*: all-or-nothing asks for a job's instances with a minimum equal to the target (EC2
  ``MinTargetCapacity``), so either all of them start or none does; best-effort takes what it gets;
- *assignment*: all-or-nothing keeps a job's instances only when every node of the job has one;
  best-effort keeps every instance it got.

``Scheduling/ScalingStrategy`` picks the combination:

- ``all-or-nothing`` (default): one all-or-nothing launch per job, all-or-nothing assignment. No
  instance is ever kept for a job that cannot run; launches are sequential per job.
- ``greedy-all-or-nothing``: one best-effort launch of every requested node, then all-or-nothing
  assignment: the instances of jobs left incomplete are terminated. Faster, but it may briefly
  over-scale (instances started then terminated).
- ``best-effort``: one best-effort launch, best-effort assignment: whatever started is kept, the
  rest fails; a job with a failed node is requeued and the started nodes serve other jobs.

Nodes of the request that belong to no job (a static node powered up by the reconciler) are
launched best-effort in every strategy. Every node that did not launch, or whose instance was
discarded, is marked DOWN with ParallelCluster's reason ``(Code:<code>)Failure when resuming
nodes`` so Slurm requeues its job at once instead of waiting for ResumeTimeout; the reconciler
reads the code (``INSUFFICIENT_CAPACITY_CODES``) to take the compute resource out for a while.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from corral.providers.base import INSUFFICIENT_CAPACITY_CODES
from corral.slurm import hostlist


class ScalingStrategy(enum.StrEnum):
    ALL_OR_NOTHING = "all-or-nothing"
    GREEDY_ALL_OR_NOTHING = "greedy-all-or-nothing"
    BEST_EFFORT = "best-effort"

    @classmethod
    def parse(cls, value: str | None) -> ScalingStrategy:
        """The strategy named ``value``; the ParallelCluster default when empty or unknown."""
        try:
            return cls((value or "").strip().lower())
        except ValueError:
            return cls.ALL_OR_NOTHING


#: The code of a node that got an instance but whose job could not get all of its nodes: not an
#: insufficient-capacity code, so its compute resource is not taken out.
LIMITED_CAPACITY_CODE = "LimitedInstanceCapacity"
FAILURE_REASON = "Failure when resuming nodes"


def failure_reason(code: str) -> str:
    """ParallelCluster's DOWN reason: ``(Code:InsufficientInstanceCapacity)Failure when resuming nodes``."""
    return f"(Code:{code}){FAILURE_REASON}" if code else FAILURE_REASON


def reason_code(reason: str) -> str | None:
    """The code of a ``(Code:X)...`` reason, or None for any other reason."""
    if not reason.startswith("(Code:"):
        return None
    end = reason.find(")")
    return reason[len("(Code:") : end] if end > 0 else None


def is_insufficient_capacity(reason: str) -> bool:
    return reason_code(reason) in INSUFFICIENT_CAPACITY_CODES


@dataclass(frozen=True)
class ResumeJob:
    """One job of the resume file: the nodes to power up for it (and all it was given)."""

    job_id: int
    nodes_resume: tuple[str, ...]
    nodes_alloc: tuple[str, ...] = ()
    oversubscribe: str = ""


@dataclass(frozen=True)
class ResumeRequest:
    """What Slurm asked the ResumeProgram for: every node, and which job needs which."""

    nodes: tuple[str, ...]
    jobs: tuple[ResumeJob, ...] = ()

    @classmethod
    def from_hostlist(cls, names: Iterable[str]) -> ResumeRequest:
        """Without a resume file (older Slurm): the whole hostlist is treated as one job."""
        nodes = tuple(dict.fromkeys(names))
        return cls(nodes, (ResumeJob(0, nodes, nodes),) if nodes else ())

    def jobless(self) -> tuple[str, ...]:
        """Requested nodes no job needs (static nodes the reconciler powers up, ``scontrol``)."""
        wanted = {n for job in self.jobs for n in job.nodes_resume}
        return tuple(n for n in self.nodes if n not in wanted)


def parse_resume_file(text: str) -> ResumeRequest:
    """Slurm's ``SLURM_RESUME_FILE`` JSON → ``ResumeRequest``. Raises ``ValueError`` when it is
    not that document. Both shapes are read: Slurm 22.05 writes ``all_nodes`` and per job
    ``nodes``; 23.02+ writes ``all_nodes_resume`` and per job ``nodes_alloc``, ``nodes_resume``,
    ``oversubscribe``. Job nodes outside the request are dropped (Slurm did not ask for them)."""
    doc = json.loads(text)
    key = next((k for k in ("all_nodes_resume", "all_nodes") if isinstance(doc, dict) and k in doc), None)
    if key is None:
        raise ValueError("not a Slurm resume file: no all_nodes_resume or all_nodes")
    nodes = tuple(dict.fromkeys(hostlist.expand(str(doc[key] or ""))))
    asked = set(nodes)
    jobs = []
    for raw in doc.get("jobs") or ():
        listed = raw.get("nodes_resume", raw.get("nodes")) or ""
        jobs.append(
            ResumeJob(
                job_id=int(raw["job_id"]),
                nodes_resume=tuple(n for n in hostlist.expand(str(listed)) if n in asked),
                nodes_alloc=tuple(hostlist.expand(str(raw.get("nodes_alloc", raw.get("nodes")) or ""))),
                oversubscribe=str(raw.get("oversubscribe") or ""),
            )
        )
    return ResumeRequest(nodes, tuple(j for j in jobs if j.nodes_resume))


@dataclass(frozen=True)
class LaunchStep:
    """One launch call: these nodes, all-or-nothing or best-effort (``job_id`` when per job)."""

    nodes: tuple[str, ...]
    all_or_nothing: bool
    job_id: int | None = None


def plan_launches(request: ResumeRequest, strategy: ScalingStrategy) -> tuple[LaunchStep, ...]:
    """The launch calls, in order. A node shared by several jobs is launched once, with the
    first job that needs it; nodes no job needs come last, best-effort."""
    steps: list[LaunchStep] = []
    if strategy is ScalingStrategy.ALL_OR_NOTHING:
        planned: set[str] = set()
        for job in request.jobs:
            nodes = tuple(n for n in job.nodes_resume if n not in planned)
            planned.update(nodes)
            if nodes:
                steps.append(LaunchStep(nodes, all_or_nothing=True, job_id=job.job_id))
        rest = tuple(n for n in request.nodes if n not in planned)
        if rest:
            steps.append(LaunchStep(rest, all_or_nothing=False))
        return tuple(steps)
    ordered = tuple(dict.fromkeys([*(n for j in request.jobs for n in j.nodes_resume), *request.nodes]))
    return (LaunchStep(ordered, all_or_nothing=False),) if ordered else ()


@dataclass(frozen=True)
class ResumeDecision:
    """What to do once the launches returned: keep, terminate (discarded instances), mark DOWN."""

    keep: tuple[str, ...] = ()
    terminate: tuple[str, ...] = ()
    #: (node, reason) for every node that failed or was discarded
    down: tuple[tuple[str, str], ...] = ()
    #: jobs that did not get all of their nodes
    failed_jobs: tuple[int, ...] = ()

    def down_by_reason(self) -> dict[str, list[str]]:
        """Nodes to mark DOWN grouped by reason (one ``scontrol update`` per reason)."""
        grouped: dict[str, list[str]] = {}
        for node, reason in self.down:
            grouped.setdefault(reason, []).append(node)
        return grouped


def decide(
    request: ResumeRequest,
    strategy: ScalingStrategy,
    launched: Iterable[str],
    failed: Mapping[str, str],
) -> ResumeDecision:
    """Given which nodes launched and the error code of each that failed (``""`` for none), the
    strategy's assignment step: best-effort keeps every launched node; the all-or-nothing
    strategies keep a launched node only if a job whose nodes all launched, or no job, needs it.
    A requested node reported neither launched nor failed counts as failed without a code."""
    up = set(launched)
    codes = {n: failed.get(n, "") for n in request.nodes if n not in up}
    complete = [all(n in up for n in job.nodes_resume) for job in request.jobs]
    incomplete = [job for job, done in zip(request.jobs, complete, strict=True) if not done]
    discard: dict[str, str] = {}
    if strategy is not ScalingStrategy.BEST_EFFORT:
        needed = {
            n for job, done in zip(request.jobs, complete, strict=True) if done for n in job.nodes_resume
        }
        needed.update(request.jobless())
        for job in incomplete:
            for node in job.nodes_resume:
                if node in up and node not in needed:
                    discard[node] = LIMITED_CAPACITY_CODE
    keep = tuple(n for n in request.nodes if n in up and n not in discard)
    down = [(n, failure_reason(c)) for n, c in codes.items()]
    down += [(n, failure_reason(c)) for n, c in discard.items()]
    return ResumeDecision(
        keep=keep,
        terminate=tuple(discard),
        down=tuple(down),
        failed_jobs=tuple(job.job_id for job in incomplete),
    )


def refuse_all(request: ResumeRequest, why: str) -> ResumeDecision:
    """Launch nothing: every node goes DOWN with ``why`` (e.g. the reconciler's heartbeat is stale)."""
    return ResumeDecision(
        down=tuple((n, why) for n in request.nodes), failed_jobs=tuple(j.job_id for j in request.jobs)
    )


__all__ = [
    "FAILURE_REASON",
    "INSUFFICIENT_CAPACITY_CODES",
    "LIMITED_CAPACITY_CODE",
    "LaunchStep",
    "ResumeDecision",
    "ResumeJob",
    "ResumeRequest",
    "ScalingStrategy",
    "decide",
    "failure_reason",
    "is_insufficient_capacity",
    "parse_resume_file",
    "plan_launches",
    "reason_code",
    "refuse_all",
]
