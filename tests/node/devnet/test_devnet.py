"""A short devnet run on real anvil chains: the summary's invariants hold, and
the scripted crash really defaults members through the waterfall."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.cli import main


@pytest.mark.slow
@pytest.mark.chain
def test_short_devnet_holds_every_invariant(tmp_path: Path) -> None:
    code = main(["devnet", "--duration", "20", "--quiet", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0, summary["failures"]
    assert summary["ok"] and summary["failures"] == [] and summary["roots_agree"]
    assert summary["validators"] == 4 and len(summary["chains"]) == 2
    assert summary["reports"] and all(
        r["verified"] and r["member_verified"] for r in summary["reports"]
    )
    events = summary["events"]
    assert events.get("liquidated", 0) >= 1  # the member levered just short of default
    for layer in ("collateral_seized", "own_contribution_used", "insurance_used"):
        assert events.get(layer, 0) >= 1, layer
    assert events.get("deleveraged", 0) + events.get("contribution_mutualised", 0) >= 1
    assert events["withdrawal"] == events["withdrawal_paid"] == 2
    for chain in summary["chains"]:
        usdc = chain["deposited"]["USDC"] - chain["paid_out"]["USDC"]
        assert chain["vault"]["USDC"] == usdc
    assert set(summary["codes"]) == {"ok"}
