"""Benchmarks. Each `bench/<name>.py` exposes `run() -> dict` and is run as
`python -m bench <name>`; the figures are printed as one JSON object on the
last line so scripts and closing notes can quote them verbatim."""

import statistics
import time
from collections.abc import Callable


def time_us(call: Callable[[], object], repeat: int) -> float:
    """Median of `repeat` runs of `call`, in microseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1e6, 1)
