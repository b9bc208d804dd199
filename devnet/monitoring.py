"""What an operator points Prometheus and Grafana at to watch the devnet's nodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from configs import GRAFANA_DASHBOARD


@dataclass(frozen=True)
class ScrapeTarget:
    """One node's operator listener: its own token, so one scrape job per node; or a
    CometBFT's metrics listener (`token_file` None: on loopback, no token)."""

    job: str
    address: str  # host:port
    token_file: Path | None


def render_scrape_config(targets: Sequence[ScrapeTarget], interval_s: int = 5) -> str:
    """A Prometheus configuration scraping each target's /metrics with its bearer token
    (node/api/operator_auth.py): Prometheus sends the file's content as the token."""
    lines = ["global:", f"  scrape_interval: {interval_s}s", "scrape_configs:"]
    for target in targets:
        lines += [f"  - job_name: {target.job}", "    metrics_path: /metrics"]
        if target.token_file is not None:
            lines += [
                "    authorization:",
                "      type: Bearer",
                f"      credentials_file: {target.token_file}",
            ]
        lines += ["    static_configs:", "      - targets:", f"          - {target.address}"]
    return "\n".join(lines) + "\n"


def write_scrape_config(out_dir: Path, targets: Sequence[ScrapeTarget]) -> Path:
    path = out_dir / "prometheus.yml"
    path.write_text(render_scrape_config(targets))
    return path


def describe_monitoring(scrape_config: Path, operator_urls: Sequence[str]) -> list[str]:
    return [
        f"status pages: {', '.join(url + '/' for url in operator_urls)} (a browser asks for "
        "the node's keys/operator_token as the password, any user name)",
        f"metrics: prometheus --config.file={scrape_config}",
        f"Grafana: add that Prometheus as a data source, then import {GRAFANA_DASHBOARD}",
    ]
