"""What a local cluster's ResumeProgram needs to know, given to it through its wrapper's environment
(slurmctld gives its programs none): the scaling strategy, the reconciler's heartbeat file and the
staleness threshold. The program itself is provider-neutral: ``corral.daemons.resume``."""

from __future__ import annotations

from corral.plan import ClusterPlan
from corral.providers.local._layout import ClusterLayout
from corral.providers.local._settings import HEARTBEAT_TIMEOUT_ENV as HEARTBEAT_TIMEOUT_ENV
from corral.providers.local._settings import LocalSettings

#: The module the local ResumeProgram wrapper runs.
RESUME_MODULE = "corral.daemons.resume"
#: The module the local SuspendProgram wrapper runs (provider-neutral too).
SUSPEND_MODULE = "corral.daemons.suspend"
#: Where the reconciler writes its heartbeat (``corral.runtime.heartbeat``).
HEARTBEAT_FILE = "heartbeat"


def heartbeat_file(layout: ClusterLayout) -> str:
    """On the run tmpfs, as ``_daemons.heartbeat_file`` (a full state disk must not stop it)."""
    return str(layout.run_dir / HEARTBEAT_FILE)


def resume_environment(plan: ClusterPlan, layout: ClusterLayout, knobs: LocalSettings) -> dict[str, str]:
    """The ResumeProgram's settings for this cluster (``knobs``: what the create read)."""
    env = {
        "CORRAL_PROVIDER": "local",
        "CORRAL_SCALING_STRATEGY": plan.scaling_strategy,
        "CORRAL_HEARTBEAT_FILE": heartbeat_file(layout),
    }
    if knobs.heartbeat_timeout:
        env[HEARTBEAT_TIMEOUT_ENV] = knobs.heartbeat_timeout
    return env
