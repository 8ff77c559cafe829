"""Seconds per stage, and the process's peak resident memory by the end of each, for the report."""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


def peak_resident_gb() -> float:
    """The largest resident set this process has had so far, in GB (2**30 bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20  # bytes on macOS, kilobytes on Linux


class StageClock:
    """Seconds per stage, and the peak resident memory by the end of each: a high-water mark,
    so the stage where it rises is the stage that needed it (several processes: this one's)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_gb: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        log.info("stage %s", stage)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.perf_counter() - start, 3)
            self.peak_gb[stage] = round(peak_resident_gb(), 2)
