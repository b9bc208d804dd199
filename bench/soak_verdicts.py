"""The soak's verdicts from its samples: the slopes of memory and disk, whether the network
kept up, and the drift of commit latency and of the machine's own speed between the first
and the last windows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.go_heap import get_heap_growth
from bench.network import percentile

DRIFT_WINDOW_S = 600.0
"""The first and the last windows of the run whose commit latency is compared."""
KEPT_UP = 0.95
"""The share of the offered trades the network must commit to have kept up."""
CALIBRATION_ROUNDS = 5
CALIBRATION_STEPS = 100_000  # about 25 ms of a core here


def get_slope(points: list[tuple[float, float]]) -> float:
    """The least-squares slope of y over x (0 with fewer than two distinct x)."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def get_rss_slope(points: list[tuple[float, float]]) -> dict[str, float]:
    """The slope of (hours, MB) points per hour: MB, and % of their mean."""
    slope = get_slope(points)
    mean = sum(y for _, y in points) / max(1, len(points))
    return {"mb": round(slope, 1), "pct": round(100 * slope / max(mean, 1), 2)}


def get_run_slope(points: list[tuple[float, float]]) -> dict[str, Any]:
    """`get_rss_slope` of the points and of their second half (`second_half`: a plateau
    reached late in the run shows flat there, a steady climb does not)."""
    return {**get_rss_slope(points), "second_half": get_rss_slope(points[len(points) // 2 :])}


def get_rss_slopes(after: list[dict[str, Any]], validators: int) -> list[dict[str, Any]]:
    """Per validator, the slope of its processes' total RSS per hour after the warm-up; the
    same over the second half of those samples (`second_half`: a plateau reached late in
    the run shows flat there, a steady climb does not); and each process's own slope
    (`by_process`: the node, its proving worker, on CometBFT `cometbft`)."""
    slopes = []
    for index in range(validators):
        rss = [(s["t_s"] / 3600, s["validators"][index]["rss_mb"]) for s in after]
        total = [(t, sum(mb.values())) for t, mb in rss]
        names = sorted({name for _, mb in rss for name in mb})
        slopes.append({
            **get_run_slope(total),
            "by_process": {name: get_rss_slope([(t, mb[name]) for t, mb in rss if name in mb])
                           for name in names},
        })  # fmt: skip
    return slopes


def get_go_memory_slopes(after: list[dict[str, Any]], validators: int) -> list[dict[str, Any]]:
    """Per validator on CometBFT, the slope per hour after the warm-up of each figure of its
    Go runtime (`parse_go_memory`), over all those samples and their second half: whether
    a `cometbft` RSS that grows is live heap growing, or freed heap its runtime keeps."""
    slopes = []
    for index in range(validators):
        go = [(s["t_s"] / 3600, s["validators"][index].get("go_mb", {})) for s in after]
        names = sorted({name for _, figures in go for name in figures} - {"goroutines"})
        slopes.append(
            {name: get_run_slope([(t, f[name]) for t, f in go if name in f]) for name in names}
        )
    return slopes


def get_go_memory_summary(after: list[dict[str, Any]], engine: str, validators: int
                          ) -> dict[str, Any]:  # fmt: skip
    """`go_mb_per_hour` on CometBFT; nothing on ours, which has no Go runtime."""
    if engine != "cometbft":
        return {}
    return {"go_mb_per_hour": get_go_memory_slopes(after, validators)}


def get_heap_growth_summary(after: list[dict[str, Any]], validators: int) -> dict[str, Any]:
    """`heap_growth`: each validator's sites whose live bytes grew most after the warm-up,
    if heap profiles were taken (at least two after it)."""
    profiles = [
        [s["validators"][i]["heap_profile"] for s in after if "heap_profile" in s["validators"][i]]
        for i in range(validators)
    ]
    if any(len(taken) < 2 for taken in profiles):
        return {}
    return {"heap_growth": [
        {"from": taken[0], "to": taken[-1],
         "sites": get_heap_growth(Path(taken[0]), Path(taken[-1]))}
        for taken in profiles
    ]}  # fmt: skip


def has_kept_up(after: list[dict[str, Any]], rate: int, sample_s: float) -> bool:
    """Whether the network committed what was offered after the warm-up (within KEPT_UP of
    it, nothing dropped as late): a soak above the machine's capacity measures its backlog,
    not the node, and its latency drift says nothing."""
    committed = sum(s["trades_per_s"] for s in after) * sample_s
    offered = rate * sample_s * len(after)
    return bool(after) and committed >= KEPT_UP * offered and all(s["late"] == 0 for s in after)


def get_disk_slopes(
    after: list[dict[str, Any]], indices: list[int], per: str, digits: int
) -> dict[str, float]:
    """By store (the log aside: it is rotated, not kept), the mean over `indices` of its
    bytes per unit of `per` (a sample's "height" or "trades_committed"), and the total."""
    names = sorted(
        {name for s in after for i in indices for name in s["validators"][i]["disk"]} - {"node.log"}
    )
    slopes = {
        name: sum(
            get_slope([(s[per], s["validators"][i]["disk"].get(name, 0)) for s in after])
            for i in indices
        )
        / max(1, len(indices))
        for name in names
    }
    slopes["total"] = sum(slopes.values())
    return {name: round(slope, digits or None) for name, slope in slopes.items()}


def get_windows(series: list[tuple[float, Any]], warm: float, sample_s: float
                ) -> tuple[list[Any], list[Any]]:  # fmt: skip
    """The values of the first and of the last samples after the warm-up that span
    DRIFT_WINDOW_S (each a third of them at most)."""
    after = [value for t, value in series if t >= warm]
    count = max(1, min(round(DRIFT_WINDOW_S / sample_s), len(after) // 3))
    return after[:count], after[-count:]


def get_relative_change(first: float, last: float) -> float | None:
    return round((last - first) / first, 3) if first else None


def get_latency_drift(
    latencies: list[tuple[float, list[float]]], warm: float, sample_s: float
) -> dict[str, Any]:
    """The commit latency p50 of the first and of the last windows after the warm-up
    (`get_windows`), and the change."""
    first_windows, last_windows = get_windows(latencies, warm, sample_s)
    first = [ms for window_ms in first_windows for ms in window_ms]
    last = [ms for window_ms in last_windows for ms in window_ms]
    first_p50, last_p50 = percentile(first, 0.5), percentile(last, 0.5)
    return {
        "window_s": round(len(first_windows) * sample_s),
        "first_p50_ms": round(first_p50, 1),
        "last_p50_ms": round(last_p50, 1),
        "change": get_relative_change(first_p50, last_p50),
    }


def get_machine_drift(
    samples: list[dict[str, Any]], warm: float, sample_s: float
) -> dict[str, Any]:
    """The median of `machine_ms` in the same windows as the latency's, and the change:
    how much slower the machine itself ran at the end."""
    series = [(sample["t_s"], sample["machine_ms"]) for sample in samples]
    first, last = (percentile(window, 0.5) for window in get_windows(series, warm, sample_s))
    return {
        "first_ms": round(first, 2),
        "last_ms": round(last, 2),
        "change": get_relative_change(first, last),
    }


def read_machine_ticks() -> tuple[int, int]:
    """The machine's CPU ticks so far: (stolen by the hypervisor for other guests, all)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return ticks[7], sum(ticks)


def time_fixed_work() -> float:
    """The CPU milliseconds (the best of CALIBRATION_ROUNDS) this process takes for a fixed
    piece of interpreted work: a control for the nodes' figures, which change with the
    machine's speed (other tenants of its cores, its clock) as much as with the nodes."""
    best = float("inf")
    for _ in range(CALIBRATION_ROUNDS):
        started = time.thread_time()
        table: dict[int, int] = {}
        for i in range(CALIBRATION_STEPS):
            table[i % 997] = table.get(i % 997, 0) + 3 * i
        sorted(table.items())
        best = min(best, time.thread_time() - started)
    return round(1000 * best, 2)
