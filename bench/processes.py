"""Worker processes for the benchmarks: spawned together, waited for, timed."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from typing import Any


def run_processes(target: Callable[..., None], arguments: Sequence[tuple[Any, ...]]) -> float:
    """Start one spawned process per argument tuple, wait for all; the wall seconds from the
    first start to the last end. A process that fails is an error."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=args) for args in arguments]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a worker exited with {process.exitcode}")
    return time.perf_counter() - started
