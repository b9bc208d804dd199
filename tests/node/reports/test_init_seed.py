"""`clearnode init` gives a network's homes one report seed, or installs a given one."""

from __future__ import annotations

from pathlib import Path

from node.commands import main
from node.config import load_config
from node.reports.seed import load_report_seed


def test_a_local_testnet_shares_one_seed(tmp_path: Path) -> None:
    assert main(["init", "--home", str(tmp_path), "--validators", "2"]) == 0
    configs = [load_config(tmp_path / f"node{i}") for i in range(2)]
    assert all(c.reports.enabled for c in configs)
    seeds = {load_report_seed(c.home / c.reports.seed_file) for c in configs}
    assert len(seeds) == 1 and len(seeds.pop()) == 32


def test_a_joining_validator_installs_the_networks_seed(tmp_path: Path) -> None:
    assert main(["init", "--home", str(tmp_path / "a")]) == 0
    existing = tmp_path / "a" / "keys" / "report_seed.json"
    args = ["init", "--home", str(tmp_path / "b"), "--report-seed", str(existing)]
    assert main(args) == 0
    assert load_report_seed(tmp_path / "b" / "keys" / "report_seed.json") == load_report_seed(
        existing
    )
    existing.chmod(0o644)  # a leaked-looking seed is refused, and nothing is written
    assert main(["init", "--home", str(tmp_path / "c"), "--report-seed", str(existing)]) == 2
    assert not (tmp_path / "c" / "config.toml").exists()
