"""The alert rules of configs/prometheus/alerts.yml: well formed and named for clearnode
everywhere, and, with Debian's promtool (`make install` installs it), loaded by
Prometheus's own checker and fired by its rule tests (tests/configs/alerts_test.yml) on
the series of a node in trouble and not on a healthy one's. That every series they read
exists on a running node is tests/node/test_metrics_live.py's to show."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "configs" / "prometheus" / "alerts.yml"
RULE_TESTS = Path(__file__).with_name("alerts_test.yml")


def test_every_rule_is_named_graded_and_explained() -> None:
    rules = [r for group in yaml.safe_load(RULES.read_text())["groups"] for r in group["rules"]]
    assert len(rules) >= 10
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert rule["alert"].startswith("Clearnode"), rule
        assert rule["labels"]["severity"] in ("critical", "warning"), rule
        assert {"summary", "description"} <= set(rule["annotations"]), rule
        assert "clearnode_" in rule["expr"] or rule["alert"] == "ClearnodeDown", rule


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool: `make install`")
def test_promtool_loads_the_rules_and_they_fire_as_their_tests_say() -> None:
    for command in (["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]):
        done = subprocess.run(["promtool", *command], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
