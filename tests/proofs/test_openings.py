"""A member opens its own commitments and checks them against what it knows."""

from __future__ import annotations

import dataclasses

from proofs.openings import (
    MemberOpenings,
    explain_scenarios,
    get_member_openings,
    verify_member_openings,
)
from proofs.statement import SolvencyStatement
from tests.proofs.conftest import EPOCH, SEED, Fixture


def _openings(f: Fixture, owner: bytes) -> MemberOpenings:
    accounts = {sub: f.book[(o, sub)] for (o, sub) in f.book if o == owner}
    return get_member_openings(SEED, EPOCH, owner, f.report.statement.input_labels, accounts)


def _known(f: Fixture, owner: bytes) -> dict[int, dict[str, int]]:
    labels = f.report.statement.input_labels
    return {
        sub: dict(zip(labels, f.book[(o, sub)], strict=True)) for (o, sub) in f.book if o == owner
    }


def test_member_openings_verify_and_round_trip_through_json(signed: Fixture) -> None:
    owner = signed.report.accounts[0].owner
    openings = _openings(signed, owner)
    assert MemberOpenings.from_json(openings.to_json()) == openings
    verdict = verify_member_openings(
        signed.gens, signed.report, owner, openings, _known(signed, owner)
    )
    assert verdict.ok, verdict.failures
    assert any("scenario values" in line for line in verdict.passed)


def test_wrong_value_or_blinding_or_expectation_fails(signed: Fixture) -> None:
    owner = signed.report.accounts[0].owner
    openings = _openings(signed, owner)
    account = openings.accounts[0]
    wrong_value = dataclasses.replace(account, values=(account.values[0] + 1, *account.values[1:]))
    tampered = dataclasses.replace(openings, accounts=(wrong_value, *openings.accounts[1:]))
    verdict = verify_member_openings(signed.gens, signed.report, owner, tampered)
    assert any("does not open" in f for f in verdict.failures)
    known = _known(signed, owner)
    known[account.subaccount]["cash"] += 1
    verdict = verify_member_openings(signed.gens, signed.report, owner, openings, known)
    assert any("'cash'" in f and "known" in f for f in verdict.failures)


def test_openings_of_another_member_or_missing_subaccount_fail(signed: Fixture) -> None:
    owner = signed.report.accounts[0].owner
    other = signed.report.accounts[1].owner
    openings = _openings(signed, owner)
    assert not verify_member_openings(signed.gens, signed.report, other, openings).ok
    partial = dataclasses.replace(openings, accounts=())
    verdict = verify_member_openings(signed.gens, signed.report, owner, partial)
    assert any("openings cover" in f for f in verdict.failures)


def test_scenario_values_are_explained_as_equity_charge_and_what_is_left() -> None:
    # k_den 2, k_num 1: cash 1000, one collateral of weight 3 (10 quanta), two positions
    statement = SolvencyStatement(
        ("cash", "collateral:1:0x" + "01" * 20, "position:A", "position:B"),
        (1 << 63, 0, 1 << 63, 1 << 63),
        ((2, 6, 0, 0), (2, 6, -40, 5), (2, 6, 10, -3)),
    )
    values = (1000, 10, 7, 4)  # equity 1030; scenario losses 0, 260, -58
    lines = explain_scenarios(statement, values, ("base", "down", "up"))
    assert lines[0].startswith("equity (cash plus collateral at its haircut value) 1030; ")
    assert lines[1:] == [
        "  base: charge 0, left 1030",
        "  down: charge 130, left 900",
        "  up: charge -29, left 1059",
    ]
    odd = explain_scenarios(statement, (1000, 10, 7, 5))  # a loss of 255/2: said exactly
    assert odd[0].startswith("equity (cash plus collateral at its haircut value) 1030; ")
    assert odd[2] == "  scenario 1: charge 255/2, left 1805/2"
    other_shape = SolvencyStatement(statement.input_labels, statement.offsets,
                                    ((2, 6, 0, 0), (2, 5, 0, 0)))  # fmt: skip
    assert explain_scenarios(other_shape, values) == []
