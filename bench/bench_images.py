"""Node images: the official image's build (first and cached), and machines booted from it.

    .venv/bin/python bench/bench_images.py                 # cached ensure + 20 machines
    .venv/bin/python bench/bench_images.py --machines 100
    .venv/bin/python bench/bench_images.py --first-build   # a fresh build into a temporary cache
                                                           # (downloads ~90 MB from Debian's archive)

Per machine: boot time (start_machine until its PID 1 runs the image's init), the PSS of every
process of the idle machine (its init and the init's sleep; from /proc/PID/smaps_rollup), and the
disk its private layer holds after boot. Root only; every machine and netns is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import pss_kib

from corral.providers.local import _proc, _rootfs, images


def machine_pids(init: int) -> list[int]:
    """PID 1 of a machine and its descendants, as host pids."""
    found, todo = [], [init]
    while todo:
        pid = todo.pop()
        found.append(pid)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return found


def du_kb(path: Path) -> int:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=False).stdout
    return int(out.split()[0]) if out else 0


def first_build() -> None:
    with tempfile.TemporaryDirectory(prefix="corral-bench-cache-", dir="/var/tmp") as cache:
        os.environ[images.CACHE_ENV] = cache
        started = time.monotonic()
        manifest = images.ensure_official()
        size_mb = du_kb(images.rootfs(manifest.ami_id)) / 1024
        print(f"first build: {time.monotonic() - started:.1f} s, {size_mb:.0f} MB")
        images.remove_tree(Path(cache) / manifest.ami_id)
    os.environ.pop(images.CACHE_ENV)


def machines(count: int, work: Path) -> None:
    started = time.monotonic()
    manifest = images.ensure_official(progress=None)
    print(f"cached ensure: {(time.monotonic() - started) * 1000:.1f} ms ({manifest.ami_id})")
    root = images.rootfs(manifest.ami_id)
    print(f"image: {du_kb(root) / 1024:.0f} MB on disk, Slurm {manifest.slurm_version}")
    boots, inits, names = [], [], []
    try:
        for i in range(count):
            netns = f"imb-{os.getpid()}-{i}"
            subprocess.run(["ip", "netns", "add", netns], check=True)
            names.append(netns)
            t = time.monotonic()
            inits.append(_rootfs.start_machine(netns, work / f"m{i}", root, [], f"m{i}", {}))
            boots.append(time.monotonic() - t)
        time.sleep(1.0)
        per_machine = [sum(pss_kib(p) for p in machine_pids(init)) for init in inits]
        disk = [du_kb(work / f"m{i}" / "upper") for i in range(count)]
        print(f"boot: median {statistics.median(boots) * 1000:.0f} ms, max {max(boots) * 1000:.0f} ms")
        median_mb, max_mb = statistics.median(per_machine) / 1024, max(per_machine) / 1024
        print(f"idle machine PSS: median {median_mb:.2f} MB, max {max_mb:.2f} MB")
        print(f"private layer after boot: median {statistics.median(disk)} KB")
    finally:
        _proc.kill_pids(inits)
        for netns in names:
            subprocess.run(["ip", "netns", "del", netns], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--first-build", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_images: run as root", file=sys.stderr)
        return 1
    if args.first_build:
        first_build()
    with tempfile.TemporaryDirectory(prefix="corral-bench-machines-") as work:
        machines(args.machines, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
