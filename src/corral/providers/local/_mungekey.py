"""The munge key of a local cluster named by ``Scheduling/SlurmSettings/MungeKeySecretArn``.

ParallelCluster reads the key from the secret (base64 of the key's bytes) so that a cluster can share
its key with an external slurmdbd and other clusters. Locally the same: the secret's value through
boto3 (Secrets Manager at ``AWS_ENDPOINT_URL``, or AWS itself) when an endpoint or credentials exist;
otherwise Corral makes a key for that ARN once and keeps it in ``<state>/secrets/munge/<hash>``
(reported as INFO), so every local cluster naming the same ARN shares one key, as they would share
the secret. Without the setting the cluster gets a key of its own (``_daemons.start_munged``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from corral.errors import ProviderError
from corral.plan import ClusterPlan
from corral.providers.secrets import aws_reachable, secret_string

KEY = "Scheduling/SlurmSettings/MungeKeySecretArn"
#: pcluster's bounds on the decoded key (MungeKeySecretSizeAndBase64Validator): 256 to 8192 bits
MIN_BYTES, MAX_BYTES = 32, 1024

Report = Callable[[str, str], None]


def secret_arn(plan: ClusterPlan) -> str | None:
    return plan.config.scheduling.slurm_settings.munge_key_secret_arn if plan.config is not None else None


def decode(arn: str, value: str) -> bytes:
    """The key's bytes from the secret's base64 text, within pcluster's size bounds."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(
            f"{KEY}: the value of secret {arn} is not base64",
            hint="store the key base64-encoded, e.g. `base64 -w0 /etc/munge/munge.key`",
        ) from exc
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise ProviderError(
            f"{KEY}: the key in secret {arn} is {len(key) * 8} bits; munge needs 256 to 8192",
            hint="make one with `dd if=/dev/urandom bs=128 count=1 | base64 -w0`",
        )
    return key


def kept_key(state_dir: Path, arn: str) -> Path:
    return state_dir / "secrets" / "munge" / hashlib.sha256(arn.encode()).hexdigest()[:16]


def key_for(arn: str, state_dir: Path, report: Report) -> bytes:
    """The key the secret ``arn`` holds (or the one Corral keeps for it, see the module docstring)."""
    if aws_reachable():
        return decode(arn, secret_string(arn, KEY, "put the base64 of the munge key in the secret"))
    kept = kept_key(state_dir, arn)
    if not kept.exists():
        kept.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(128))
    report(
        "MungeKey",
        f"INFO: no AWS endpoint or credentials to read {arn}: the cluster uses the munge key Corral"
        f" keeps for that secret in {kept} (shared by every local cluster that names it)",
    )
    return kept.read_bytes()


def write_cluster_key(plan: ClusterPlan, target: Path, state_dir: Path, report: Report) -> bool:
    """Write the secret's key to ``target`` (mode 0600) when the plan names one; False otherwise."""
    arn = secret_arn(plan)
    if not arn:
        return False
    key = key_for(arn, state_dir, report)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return True


__all__ = ["decode", "kept_key", "key_for", "secret_arn", "write_cluster_key"]
