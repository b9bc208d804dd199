from pathlib import Path

from devnet.monitoring import (
    GRAFANA_DASHBOARD,
    ScrapeTarget,
    describe_monitoring,
    render_scrape_config,
    write_scrape_config,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_scrape_config_is_what_the_devnet_writes_for_one_node() -> None:
    example = (ROOT / "configs" / "prometheus.example.yml").read_text()
    config = example[example.index("global:") :]
    token = Path("/var/lib/clearnode/keys/operator_token")
    assert config == render_scrape_config(
        [ScrapeTarget("clearnode", "127.0.0.1:8081", token),
         ScrapeTarget("cometbft", "127.0.0.1:26660", None)]
    )  # fmt: skip


def test_the_devnet_scrapes_every_node_and_names_the_dashboard(tmp_path: Path) -> None:
    urls = [f"http://127.0.0.1:{3000 + i}" for i in range(3)]
    tokens = [tmp_path / f"node{i}" / "keys" / "operator_token" for i in range(3)]
    path = write_scrape_config(
        tmp_path,
        [ScrapeTarget(f"clearnode-node{i}", f"127.0.0.1:{3000 + i}", tokens[i]) for i in range(3)],
    )
    text = path.read_text().splitlines()
    targets = [line.strip() for line in text if "- 127.0.0.1:" in line]
    assert targets == ["- 127.0.0.1:3000", "- 127.0.0.1:3001", "- 127.0.0.1:3002"]
    files = [line.split(": ", 1)[1] for line in text if "credentials_file" in line]
    assert files == [str(t) for t in tokens]  # each node's own token
    lines = describe_monitoring(path, urls)
    assert f"--config.file={path}" in lines[1] and str(GRAFANA_DASHBOARD) in lines[2]
    assert GRAFANA_DASHBOARD.is_file()
    assert "http://127.0.0.1:3002/" in lines[0]
