"""Turning an exception from a failed operation into pcluster's ``failures`` entry (code + reason)."""

from __future__ import annotations

from corral.errors import CorralError, Terminated

# (failure code, words that identify it in the error message), checked in order, first match wins.
# The codes are ParallelCluster's (``failures[].failureCode`` of describe-cluster).
_CODES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("OnNodeConfiguredExecutionFailure", ("OnNodeConfigured",)),
    ("OnNodeStartExecutionFailure", ("OnNodeStart",)),
    ("EbsMountFailure", ("EBS", "Ebs")),
    ("EfsMountFailure", ("EFS", "Efs")),
    ("FsxMountFailure", ("FSx", "Fsx", "FSX")),
    ("StaticNodeBootstrapFailure", ("static node",)),
    ("HeadNodeBootstrapFailure", ("head node", "HeadNode", "slurmctld", "munge")),
)


def failure_from(exc: BaseException) -> tuple[str, str]:
    """``(failureCode, failureReason)`` for ``exc``: the reason is its message (plus hint)."""
    if isinstance(exc, CorralError):
        reason = exc.message + (f" ({exc.hint})" if exc.hint else "")
    elif isinstance(exc, Terminated):  # SIGTERM, SIGHUP
        reason = f"create was interrupted ({exc})"
    elif isinstance(exc, KeyboardInterrupt):
        reason = "create was interrupted (Ctrl-C)"
    else:
        reason = f"unexpected error: {type(exc).__name__}: {exc}"
    for code, words in _CODES:
        if any(w in reason for w in words):
            return code, reason
    return "ClusterCreationFailure", reason


__all__ = ["failure_from"]
