"""What several benchmarks measure the same way (imported as ``_measure``: the benchmarks run as
``python bench/<name>.py``, so this directory is on ``sys.path``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path


def median_ms(func: Callable[[], object], runs: int) -> float:
    """The median of ``runs`` timed calls of ``func``, in milliseconds, after one untimed warm-up."""
    func()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        func()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000


def pss_kib(pid: int) -> int:
    """The process's proportional set size in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
