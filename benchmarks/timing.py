"""Timing shared by the benchmark scripts (run them from the repo root with PYTHONPATH=.)."""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np


def best_time(fn: Callable[[], Any], xp: Any, repeat: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Best time of ``repeat`` runs of ``fn`` in seconds, after one warm-up (GPU: synchronised).

    ``clock`` is wall time by default; ``time.process_time`` counts CPU seconds of all threads,
    steadier on a machine shared with other work.
    """
    def sync():
        if xp is not np:
            xp.cuda.Device().synchronize()
    fn()
    sync()
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return min(times)
