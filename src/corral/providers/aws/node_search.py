"""Make the cluster's domain a DNS search domain on a node, as pcluster does, so a node name alone
(``queue-dy-cr-1``: MPI host files, ``ssh`` between nodes) resolves through the cluster's hosted
zone (``<node>.<cluster>.pcluster.``, written by the ResumeProgram, ``_dns``):

    python -m corral.providers.aws.node_search DOMAIN

With systemd-resolved, a drop-in ``/etc/systemd/resolved.conf.d/corral.conf`` (``Domains=``) and a
restart of the resolver; otherwise the domain is put first on ``/etc/resolv.conf``'s ``search``
line. Idempotent. A failure exits 1 with the reason (also to ``$CORRAL_SERVICE_ERROR_FILE``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RESOLVED_RUN = Path("/run/systemd/resolve")
RESOLVED_DROP_IN = Path("/etc/systemd/resolved.conf.d/corral.conf")
RESOLV_CONF = Path("/etc/resolv.conf")


def with_search_domain(text: str, domain: str) -> str:
    """``resolv.conf`` text with ``domain`` first on its ``search`` line (added when missing). Pure."""
    domain = domain.rstrip(".")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        fields = line.split()
        if fields and fields[0] in ("search", "domain"):
            rest = [d for d in fields[1:] if d.rstrip(".") != domain]
            lines[i] = " ".join(["search", domain, *rest])
            return "\n".join(lines) + "\n"
    return "\n".join([f"search {domain}", *lines]) + "\n"


def add_search_domain(domain: str, resolv_conf: Path = RESOLV_CONF) -> str:
    if RESOLVED_RUN.is_dir() and resolv_conf == RESOLV_CONF:
        RESOLVED_DROP_IN.parent.mkdir(parents=True, exist_ok=True)
        RESOLVED_DROP_IN.write_text(f"[Resolve]\nDomains={domain.rstrip('.')}\n", encoding="utf-8")
        result = subprocess.run(["systemctl", "restart", "systemd-resolved"], capture_output=True, text=True)
        if result.returncode != 0:
            raise OSError(f"`systemctl restart systemd-resolved` failed: {result.stderr.strip()}")
        return f"{domain} added to systemd-resolved's search domains"
    current = resolv_conf.read_text(encoding="utf-8") if resolv_conf.exists() else ""
    resolv_conf.write_text(with_search_domain(current, domain), encoding="utf-8")
    return f"{domain} first on {resolv_conf}'s search line"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m corral.providers.aws.node_search DOMAIN", file=sys.stderr)
        return 2
    try:
        print(f"corral: {add_search_domain(args[0])}", flush=True)
    except OSError as exc:
        message = f"adding the search domain {args[0]} failed: {exc}"
        print(f"corral: {message}", file=sys.stderr, flush=True)
        error_file = os.environ.get("CORRAL_SERVICE_ERROR_FILE")
        if error_file:
            Path(error_file).write_text(message, encoding="utf-8")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
