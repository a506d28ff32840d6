"""Calls per second, the measure the call-rate benchmarks here share (run as scripts, so the folder
is on `sys.path`)."""

from __future__ import annotations

import time
from typing import Callable


def rate(call: Callable[[], object], seconds: float, batch: int) -> float:
    """How many times per second `call` ran, calling it for at least `seconds`.

    The clock is read once per `batch` calls so that reading it does not weigh on a fast call."""
    done = 0
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            call()
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed
