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


def time_per_call_us(call: Callable[[], object], calls: int, repeat: int) -> float:
    """The median over `repeat` rounds of the time per call of `calls` calls, in µs (for
    calls of a few µs, which one timing per call would mostly measure the clock of)."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        rounds.append((time.perf_counter() - start) / calls)
    return round(statistics.median(rounds) * 1e6, 3)
