"""proofs/reserves.py: the report's collateral is the ledger's under the root, and each
vault, with the payouts clearing had not seen, holds at least what the ledger says it
holds (collateral, pending withdrawals, settlement cash); a chain not read or not
readable is said, and sets the exit code apart."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from clearing.assets import CollateralToken
from clearing.genesis import Genesis, Vault, parse_genesis
from clearing.published_ledger import PublishedLedger, ReserveTotal
from proofs.report import Report
from proofs.report_check import EXIT_INVALID, EXIT_NOT_CHECKED, EXIT_VALID
from proofs.reserves import Unreadable, VaultReading, check_reserves, get_collateral_quanta
from proofs.verify import print_report
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


PENDING, CASH, PAID = 30, 20, 100  # quanta of each token: pending, settlement cash, paid


def committed(report: Report, collateral_delta: int = 0) -> Report:
    """`report` with a ledger (in its market proof) committing its collateral (plus
    `collateral_delta`), PENDING withdrawals, CASH for cash and PAID paid of each token."""
    reserves = tuple(
        ReserveTotal(c, t, q + collateral_delta, PENDING, CASH, PAID)
        for (c, t), q in sorted(get_collateral_quanta(report).items())
    )
    ledger = PublishedLedger((), 0, reserves, 0).encode()
    return dataclasses.replace(
        report, market_proof=dataclasses.replace(report.market_proof, ledger=ledger)
    )


def reading(
    genesis: Genesis, chain_id: int, extra: int, signed: Fixture, unseen: int = 0
) -> VaultReading:
    """The vault holding what the ledger says, plus `extra` units, with `unseen` units of
    payouts clearing has not seen beyond PAID quanta: they left the vault."""
    owed = {
        t: (q + PENDING + CASH) * QUANTUM
        for (c, t), q in get_collateral_quanta(signed.report).items()
    }
    mine = [t.token for t in genesis.collateral if t.chain_id == chain_id]
    balances = {t: owed[t] + extra - unseen for t in mine}
    withdrawn = {t: PAID * QUANTUM + unseen for t in mine}
    return VaultReading(chain_id, bytes([chain_id]) * 20, 1234, balances, withdrawn)


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
    verdict = check_reserves(committed(signed.report), genesis, readings)
    ledger, passed = verdict.passed
    assert (
        ledger == "the report's collateral totals are the ledger's under the state root (2 tokens)"
    )
    assert passed.startswith(f"chain 1 vault 0x{'01' * 20} at block 1234 holds ")
    assert "and paid 0 that clearing had not seen paid, >= the " in passed
    assert f"pending withdrawals {PENDING}, settlement cash {CASH} quanta; the 5 more" in passed
    (failure,) = verdict.failures
    assert f"chain 2 vault 0x{'02' * 20} at block 1234 holds " in failure
    assert failure.endswith("short by 1")
    assert print_report([("reserves", verdict)]) == EXIT_INVALID
    assert capsys.readouterr().out.startswith("VERDICT: INVALID (1 failure)\n")


def test_a_chain_not_read_is_said_and_one_unreadable_is_could_not_check(
    signed: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    genesis = genesis_for(signed)
    only_one = check_reserves(
        committed(signed.report), genesis, {1: reading(genesis, 1, 0, signed)}
    )
    assert only_one.not_checked == ["reserves on chain 2: not read (give --rpc 2=URL)"]
    assert print_report([("reserves", only_one)]) == EXIT_VALID
    assert capsys.readouterr().out.startswith("VERDICT: VALID\n")
    down = {1: reading(genesis, 1, 0, signed), 2: Unreadable(2, "http://x: refused")}
    verdict = check_reserves(committed(signed.report), genesis, down)
    assert verdict.unreadable == ["reserves on chain 2: http://x: refused"]
    assert print_report([("reserves", verdict)]) == EXIT_NOT_CHECKED
    out = capsys.readouterr().out
    assert out.startswith("VERDICT: NOT CHECKED (1 check(s) asked for could not be made)\n")
    assert "  could not  reserves on chain 2: http://x: refused" in out


def test_payouts_clearing_has_not_seen_count_as_still_held(signed: Fixture) -> None:
    """A withdrawal the vault paid before the block read but clearing saw paid only after
    the report: pending in the ledger, gone from the vault, in the vault's logs."""
    genesis = genesis_for(signed)
    report = committed(signed.report)
    paid_unseen = {1: reading(genesis, 1, 0, signed, unseen=7), 2: reading(genesis, 2, 0, signed)}
    verdict = check_reserves(report, genesis, paid_unseen)
    assert verdict.ok, verdict.failures
    assert "and paid 7 that clearing had not seen paid, >= the " in verdict.passed[1]
    # the same balance without the log: 7 short
    seen_only = {t: PAID * QUANTUM for t in paid_unseen[1].withdrawn}
    vanished = dataclasses.replace(paid_unseen[1], withdrawn=seen_only)
    failures = check_reserves(report, genesis, {**paid_unseen, 1: vanished}).failures
    assert len(failures) == 1 and failures[0].endswith("short by 7")


def test_logs_paying_less_than_clearing_saw_paid_fail(signed: Fixture) -> None:
    genesis = genesis_for(signed)
    none = {t.token: 0 for t in genesis.collateral}
    short_logs = dataclasses.replace(reading(genesis, 1, 0, signed), withdrawn=none)
    failures = check_reserves(committed(signed.report), genesis, {1: short_logs}).failures
    assert failures and all(
        f.endswith(f"less than the {PAID * QUANTUM} the ledger under the state root saw paid")
        for f in failures
    )


def test_a_ledger_whose_collateral_is_not_the_reports_fails_without_a_chain(
    signed: Fixture,
) -> None:
    verdict = check_reserves(committed(signed.report, collateral_delta=1), None, {})
    first = min(get_collateral_quanta(signed.report).items())
    (chain, token), quanta = first
    assert len(verdict.failures) == 2
    assert verdict.failures[0] == (
        f"collateral:{chain}:0x{token.hex()}: the report's accounts hold {quanta} quanta, the "
        f"ledger under the state root {quanta + 1}"
    )
