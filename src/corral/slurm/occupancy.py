"""Which jobs an update would touch (the nodes and queues they occupy): ``squeue`` read with one
format, and a pure filter."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from corral.slurm import hostlist

#: Every job not finished, with its partition(s) and nodes.
JOBS_ARGV = ("squeue", "-h", "-a", "-o", "%i|%T|%P|%N")
#: States in which a job holds nodes.
HOLDING_STATES = frozenset({"RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING"})


@dataclass(frozen=True)
class Job:
    job_id: str
    state: str
    partitions: tuple[str, ...]
    nodes: tuple[str, ...]


def parse_occupancy(output: str) -> list[Job]:
    """Rows of ``squeue`` run with ``JOBS_ARGV``."""
    jobs = []
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 4:
            continue
        job_id, state, partitions, nodes = parts
        expanded = tuple(hostlist.expand(nodes)) if nodes.strip() else ()
        jobs.append(Job(job_id, state, tuple(p for p in partitions.split(",") if p), expanded))
    return jobs


def jobs_in_the_way(jobs: Sequence[Job], nodes: Collection[str], queues: Collection[str]) -> list[Job]:
    """Jobs that hold any of ``nodes``, and every job (queued too) of a queue in ``queues``."""
    wanted, gone = set(nodes), set(queues)
    return [
        j
        for j in jobs
        if (j.state in HOLDING_STATES and wanted.intersection(j.nodes)) or gone.intersection(j.partitions)
    ]


__all__ = ["HOLDING_STATES", "JOBS_ARGV", "Job", "jobs_in_the_way", "parse_occupancy"]
