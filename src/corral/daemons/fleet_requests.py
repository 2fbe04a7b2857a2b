"""The compute fleet's recorded status, moved along by the reconciler as ``clustermgtd`` does.

``update-compute-fleet`` records STOP_REQUESTED or START_REQUESTED in the state store (and applies
the Slurm commands at once when it can reach the head node). Each pass, the reconciler reads the
recorded status and ``fleet_moves`` decides what to do with it:

- a request still pending (STOP_REQUESTED / START_REQUESTED): apply its Slurm commands (built from
  what Slurm lists, so the loop needs no plan) and record STOPPING / STARTING;
- STOPPING / STARTING: record STOPPED / RUNNING once Slurm shows it;
- RUNNING with a queue in protected mode: record PROTECTED (``describe-compute-fleet`` shows it);
  PROTECTED with no queue protected any more (an administrator set the partition UP): RUNNING.
  START_REQUESTED releases protected mode, since its commands set every partition UP.

Pure: the loop reads the store, calls ``fleet_moves``, runs the commands and saves each status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from corral.slurm import hostlist
from corral.slurm.fleet import STOP_REASON
from corral.slurm.fleet import FleetStatus as SlurmFleet
from corral.state import FleetStatus

F = FleetStatus


@dataclass(frozen=True)
class FleetMove:
    """Run ``commands`` (scontrol argv lists), then record ``status`` because of ``reason``."""

    status: FleetStatus
    reason: str
    commands: tuple[tuple[str, ...], ...] = ()


def stop_commands(partitions: Iterable[str], nodes: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """Every partition INACTIVE, then every compute node powered down (jobs requeued)."""
    out: list[tuple[str, ...]] = [
        ("scontrol", "update", f"PartitionName={p}", "State=INACTIVE") for p in sorted(partitions)
    ]
    names = sorted(nodes)
    if names:
        out.append(
            (
                "scontrol",
                "update",
                f"NodeName={hostlist.compress(names)}",
                "State=POWER_DOWN_FORCE",
                f"Reason={STOP_REASON}",
            )
        )
    return tuple(out)


def start_commands(partitions: Iterable[str], static: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """Every partition UP, then the static nodes powered up."""
    out = [("scontrol", "update", f"PartitionName={p}", "State=UP") for p in sorted(partitions)]
    names = sorted(static)
    if names:
        out.append(("scontrol", "update", f"NodeName={hostlist.compress(names)}", "State=POWER_UP"))
    return tuple(out)


def fleet_moves(
    recorded: FleetStatus,
    slurm: SlurmFleet,
    *,
    protected: Sequence[str],
    partitions: Sequence[str],
    nodes: Sequence[str],
    static: Sequence[str],
) -> list[FleetMove]:
    """The statuses to record from ``recorded`` given what Slurm shows (``slurm``, computed
    without the protected queues) and the queues in protected mode, in order. A request's own
    effect shows in Slurm at the next pass, which finishes it."""
    if recorded is F.STOP_REQUESTED:
        return [FleetMove(F.STOPPING, "applying the stop request", stop_commands(partitions, nodes))]
    if recorded is F.START_REQUESTED:
        return [FleetMove(F.STARTING, "applying the start request", start_commands(partitions, static))]
    if recorded is F.STOPPING and slurm is SlurmFleet.STOPPED:
        return [FleetMove(F.STOPPED, "every compute node is down and no partition accepts jobs")]
    if recorded is F.STARTING and slurm is SlurmFleet.RUNNING:
        return [FleetMove(F.RUNNING, "the partitions accept jobs again")]
    if recorded is F.RUNNING and protected:
        why = f"queue(s) {', '.join(sorted(protected))} in protected mode (repeated bootstrap failures)"
        return [FleetMove(F.PROTECTED, why)]
    if recorded is F.PROTECTED and not protected:
        return [FleetMove(F.RUNNING, "no queue is in protected mode any more")]
    return []
