"""proofs/reserves.py: each vault must hold at least the report's collateral on its chain;
a chain not read or not readable is said, and sets the exit code apart."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from clearing.assets import CollateralToken
from clearing.genesis import Genesis, Vault, parse_genesis
from proofs.reserves import Unreadable, VaultReading, check_reserves, get_collateral_quanta
from proofs.verify import EXIT_INVALID, EXIT_NOT_CHECKED, EXIT_VALID, print_report
from tests.proofs.conftest import Fixture

ROOT = Path(__file__).resolve().parents[2]
QUANTUM = 1_000


def genesis_for(signed: Fixture) -> Genesis:
    """The example genesis listing the sample report's collateral tokens (chains 1 and 2)
    and a vault on each."""
    keys = list(get_collateral_quanta(signed.report))
    genesis = parse_genesis(json.loads((ROOT / "configs" / "genesis.example.json").read_text()))
    tokens = tuple(
        CollateralToken(chain, token, f"T{n}", 18, QUANTUM, 0, "USDC/quantum")
        for n, (chain, token) in enumerate(keys)
    )
    vaults = tuple(Vault(chain, bytes([chain]) * 20) for chain in sorted({c for c, _ in keys}))
    return dataclasses.replace(genesis, collateral=tokens, vaults=vaults)


def reading(genesis: Genesis, chain_id: int, extra: int, signed: Fixture) -> VaultReading:
    owed = {t: q * QUANTUM for (c, t), q in get_collateral_quanta(signed.report).items()}
    balances = {
        t.token: owed[t.token] + extra for t in genesis.collateral if t.chain_id == chain_id
    }
    return VaultReading(chain_id, bytes([chain_id]) * 20, 1234, balances)


def test_the_totals_are_the_proven_quanta_plus_those_in_default(signed: Fixture) -> None:
    totals = get_collateral_quanta(signed.report)
    labels = [e.label for e in signed.report.aggregates if e.label.startswith("collateral:")]
    assert len(totals) == len(labels) == 2
    expected = {
        (chain, token): sum(inputs[index] for inputs in signed.book.values())
        for index, label in enumerate(signed.report.statement.input_labels)
        if label.startswith("collateral:")
        for chain, token in [(int(label.split(":")[1]), bytes.fromhex(label.split(":")[2][2:]))]
    }
    assert totals == expected


def test_a_vault_holding_enough_passes_and_one_short_fails_naming_the_numbers(
    signed: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    genesis = genesis_for(signed)
    readings = {1: reading(genesis, 1, 5, signed), 2: reading(genesis, 2, -1, signed)}
    verdict = check_reserves(signed.report, genesis, readings)
    (passed,) = verdict.passed
    assert passed.startswith(f"chain 1 vault 0x{'01' * 20} at block 1234 holds ")
    assert "(the 5 more backs pending withdrawals" in passed
    (failure,) = verdict.failures
    assert f"chain 2 vault 0x{'02' * 20} at block 1234 holds " in failure
    assert failure.endswith("short by 1")
    assert print_report([("reserves", verdict)]) == EXIT_INVALID
    assert capsys.readouterr().out.startswith("VERDICT: INVALID (1 failure)\n")


def test_a_chain_not_read_is_said_and_one_unreadable_is_could_not_check(
    signed: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    genesis = genesis_for(signed)
    only_one = check_reserves(signed.report, genesis, {1: reading(genesis, 1, 0, signed)})
    assert only_one.not_checked == ["reserves on chain 2: not read (give --rpc 2=URL)"]
    assert print_report([("reserves", only_one)]) == EXIT_VALID
    assert capsys.readouterr().out.startswith("VERDICT: VALID\n")
    down = {1: reading(genesis, 1, 0, signed), 2: Unreadable(2, "http://x: refused")}
    verdict = check_reserves(signed.report, genesis, down)
    assert verdict.unreadable == ["reserves on chain 2: http://x: refused"]
    assert print_report([("reserves", verdict)]) == EXIT_NOT_CHECKED
    out = capsys.readouterr().out
    assert out.startswith("VERDICT: NOT CHECKED (1 check(s) asked for could not be made)\n")
    assert "  could not  reserves on chain 2: http://x: refused" in out
