"""The reconciler daemon's entry point (the ``clustermgtd`` role):
``python -m corral.daemons.reconcilerd STATE_DIR CLUSTER [--provider NAME] ...``.

A module of its own so that the pure rules (``corral.daemons.reconciler``) and the loop that applies
them (``corral.daemons._loop``) import each other in one direction only.
"""

from __future__ import annotations

import sys

from corral.daemons._loop import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
