"""The ground floor: small runtime pieces every layer may import (node, providers, daemons, service).

- ``corral.runtime.files``: atomic writes (a reader never sees half a file).
- ``corral.runtime.proclog``: the one line format of Corral's processes' logs
  (``<UTC ISO time, ms> <program>[<pid>] <message>``).
- ``corral.runtime.heartbeat``: the reconciler's heartbeat file (written by the reconciler and at
  create, read by the ResumeProgram and by every compute node's watchdog).
- ``corral.runtime.settings``: typed parsing of ``CORRAL_*`` environment settings.
- ``corral.runtime.codec``: the generic JSON codec for records crossing a process boundary.

It imports nothing of Corral but ``corral.errors`` (import-linter holds this), so anything may
import it. Put a helper here only when two layers need the same thing.
"""
