"""What an operator points Prometheus and Grafana at to watch the devnet's nodes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

GRAFANA_DASHBOARD = Path(__file__).resolve().parents[2] / "configs" / "grafana" / "clearnode.json"


def render_scrape_config(targets: Sequence[str], interval_s: int = 5) -> str:
    """A Prometheus configuration scraping `targets` (host:port of operator listeners)."""
    lines = [
        "global:",
        f"  scrape_interval: {interval_s}s",
        "scrape_configs:",
        "  - job_name: clearnode",
        "    metrics_path: /metrics",
        "    static_configs:",
        "      - targets:",
        *(f"          - {target}" for target in targets),
    ]
    return "\n".join(lines) + "\n"


def write_scrape_config(out_dir: Path, operator_urls: Sequence[str]) -> Path:
    path = out_dir / "prometheus.yml"
    path.write_text(render_scrape_config([url.removeprefix("http://") for url in operator_urls]))
    return path


def describe_monitoring(scrape_config: Path, operator_urls: Sequence[str]) -> list[str]:
    return [
        f"status pages: {', '.join(url + '/' for url in operator_urls)}",
        f"metrics: prometheus --config.file={scrape_config}",
        f"Grafana: add that Prometheus as a data source, then import {GRAFANA_DASHBOARD}",
    ]
