"""What a running validator measures of itself for the benches: its processes' CPU (the
node, its proving worker, its `cometbft`, read from /proc) and its metrics' figures (busy
seconds per part, bytes sent per channel, seconds in each consensus step)."""

from __future__ import annotations

import os
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.node.netproc import NodeHome


def get_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process and its waited-for children used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def list_descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs, whichever thread started them (a node's
    proving worker, its `cometbft`)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def get_tree_cpu_s(pid: int, descendants: list[int] | None = None) -> float:
    """CPU seconds of `pid` and its running descendants (a node, its worker, its
    `cometbft`; `descendants`: the walk the caller already made); one that ends meanwhile
    counts in its parent's once waited for."""
    total = get_cpu_s(pid)
    for child in list_descendants(pid) if descendants is None else descendants:
        try:
            total += get_cpu_s(child)
        except OSError:
            continue
    return total


def iter_samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield sample.name, sample.labels, sample.value


def read_cometbft_metrics(home: NodeHome) -> str | None:
    """The Prometheus text of the validator's `cometbft` process, if it serves one."""
    if home.cometbft_metrics_port is None:
        return None
    url = f"http://127.0.0.1:{home.cometbft_metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def read_figures(home: NodeHome, engine: str) -> dict[str, dict[str, float]]:
    """What a validator's metrics say so far (`get_figures`): its node's and, on
    CometBFT, its `cometbft`'s."""
    cometbft = read_cometbft_metrics(home) if engine == "cometbft" else None
    return get_figures(home.get_metrics(), cometbft)


def get_figures(node: str, cometbft: str | None) -> dict[str, dict[str, float]]:
    """From a node's metrics text and its `cometbft`'s (if any): busy seconds per part
    (the `cometbft` process's CPU as one), bytes sent per channel, seconds and count of
    each consensus step (sums over labels)."""
    figures: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for text in (node, cometbft or ""):
        for name, labels, value in iter_samples(text):
            if name == "process_cpu_seconds_total" and text is cometbft:
                figures["busy"]["cometbft"] += value
            elif name == "clearnode_busy_seconds_total":
                figures["busy"][labels["part"]] += value
            elif name == "clearnode_p2p_sent_bytes_total":
                figures["sent"][labels["channel"]] += value
            elif name == "cometbft_p2p_message_send_bytes_total":
                figures["sent"]["cometbft:" + labels.get("message_type", "")] += value
            elif name in ("clearnode_consensus_step_seconds_sum",
                          "cometbft_consensus_step_duration_seconds_sum"):  # fmt: skip
                figures["step_s"][labels["step"]] += value
    return figures


def subtract(after: dict[str, dict[str, float]], before: dict[str, dict[str, float]]
             ) -> dict[str, dict[str, float]]:  # fmt: skip
    return {
        kind: {key: value - before.get(kind, {}).get(key, 0.0) for key, value in values.items()}
        for kind, values in after.items()
    }


def get_busy_shares(figures: dict[str, dict[str, float]], seconds: float) -> dict[str, float]:
    """A validator's event loop's busy share of a core per part over `seconds` of its
    figures (`read_figures`, `subtract`)."""
    return {k: round(v / seconds, 3) for k, v in sorted(figures.get("busy", {}).items())}


def get_step_ms_per_height(figures: dict[str, dict[str, float]], heights: int) -> dict[str, float]:
    """The milliseconds an average one of `heights` spent in each consensus step."""
    return {
        k: round(1000 * v / max(1, heights), 1)
        for k, v in sorted(figures.get("step_s", {}).items())
    }
