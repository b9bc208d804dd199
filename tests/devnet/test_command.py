import json
from pathlib import Path

import pytest

from devnet.ledger_demo import DEFAULT_GENESIS, Demo
from devnet.sandbox import Sandbox
from node.commands import main


def test_devnet_demo_runs_every_block_and_conserves_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["devnet", "--ledger-demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("state root ") == 6
    assert "value conserved in every block" in out
    assert "trade_rejected: code=OutsideBand" in out
    assert "price_clamped" in out and "variation_margin" in out and "funding:" in out
    assert "withdrawal:" in out and "withdrawal_paid:" in out


def test_devnet_output_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    main(["devnet", "--ledger-demo"])
    first = capsys.readouterr().out
    main(["devnet", "--ledger-demo"])
    assert capsys.readouterr().out == first


def test_bad_genesis_is_reported_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(DEFAULT_GENESIS.read_text())
    doc["chain_id"] = "x"
    bad = tmp_path / "genesis.json"
    bad.write_text(json.dumps(doc))
    assert main(["devnet", "--ledger-demo", "--genesis", str(bad)]) == 2
    assert "key='chain_id'" in capsys.readouterr().out


def test_conservation_check_catches_money_from_nowhere() -> None:
    demo = Demo(Sandbox.from_genesis_doc(json.loads(DEFAULT_GENESIS.read_text())))
    title, txs = next(demo.script())
    demo.apply(title, txs)
    assert demo.check_conservation() == ""
    next(iter(demo.box.state.members.values())).sub_accounts[0].cash += 1
    assert "cash+fees+insurance" in demo.check_conservation()
    next(iter(demo.box.state.members.values())).sub_accounts[0].cash -= 1
    next(iter(demo.box.state.members.values())).sub_accounts[0].collateral[demo.usdc] += 1
    assert "held" in demo.check_conservation()


def test_devnet_warns_loudly_that_its_keys_are_public(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["devnet", "--ledger-demo"])
    assert "PUBLIC TEST KEYS" in capsys.readouterr().err
