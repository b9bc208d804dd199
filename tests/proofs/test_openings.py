"""A member opens its own commitments and checks them against what it knows."""

from __future__ import annotations

import dataclasses

from proofs.openings import MemberOpenings, get_member_openings, verify_member_openings
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
