"""A short devnet run on real anvil chains: the summary's invariants hold, and
the scripted crash really defaults members through the waterfall."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from clearing.block import BlockContext, BlockResult, process_block
from clearing.state import ClearingState
from node.cli import main
from node.devnet import orchestrator


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


@pytest.mark.slow
@pytest.mark.chain
def test_a_validator_whose_root_differs_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def diverging(state: ClearingState, context: BlockContext, raw: list[bytes]) -> BlockResult:
        result = process_block(state, context, raw)
        calls.append(context.height)
        if context.height == 2 and calls.count(2) == 2:  # the second validator at height 2
            return replace(result, state_root=bytes(32))
        return result

    monkeypatch.setattr(orchestrator, "process_block", diverging)
    code = main(["devnet", "--duration", "1", "--quiet", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 1 and not summary["ok"] and not summary["roots_agree"]
    assert "height 2: validators' state roots differ" in summary["failures"]
