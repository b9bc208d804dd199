"""A report covers every account under its state root (proofs/coverage.py): a chain's
report passes, with the clearing house's cash carrying the insurance fund; an account
left out or made up is named, and cash that is not the root's is named with the
difference. The forgeries of a whole report (signed, anchored) are the report vectors
left-out-* (tests/vectors/make_reports.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clearing.published_ledger import PublishedLedger
from proofs.coverage import check_coverage
from proofs.report import DefaultEntry, Report
from tests.proofs.test_disclosed import report_with_defaults, report_with_house_short


@pytest.fixture(scope="module")
def chain_report() -> Report:
    return report_with_defaults()


def test_a_chains_report_covers_every_account_and_its_cash(chain_report: Report) -> None:
    for report in (chain_report, report_with_house_short()):
        verdict = check_coverage(report)
        assert verdict.ok, verdict.failures
        accounts, in_default = len(report.accounts), len(report.in_default)
        assert verdict.passed[0] == (
            f"the report covers every account under the state root ({accounts + in_default}: "
            f"{accounts} proven, {in_default} in default)"
        )
        assert verdict.passed[1].startswith("the report's accounts hold the cash under the")


def test_an_account_left_out_is_named_with_both_counts(chain_report: Report) -> None:
    left_out = chain_report.accounts[-1]
    report = replace(chain_report, accounts=chain_report.accounts[:-1])
    total = len(chain_report.accounts) + len(chain_report.in_default)
    assert check_coverage(report).failures[:2] == [
        f"{left_out.describe()} is under the state root, not in the report",
        f"the report covers {total - 1} accounts, the state root lists {total}",
    ]


def test_an_account_not_under_the_root_is_named(chain_report: Report) -> None:
    width = len(chain_report.statement.input_labels)
    made_up = DefaultEntry(bytes([0xEE]) * 20, 0, (-5, *(0,) * (width - 1)))
    listed = tuple(sorted((*chain_report.in_default, made_up), key=lambda d: d.key))
    failures = check_coverage(replace(chain_report, in_default=listed)).failures
    assert failures[0] == f"account 0x{'ee' * 20}/0 is in the report, not under the state root"
    assert failures[2].startswith("cash: the report's accounts hold ")
    assert failures[2].endswith("(a difference of -5)")


def test_cash_that_is_not_the_roots_is_named_with_the_difference(chain_report: Report) -> None:
    ledger = PublishedLedger.decode(chain_report.market_proof.ledger)
    more = replace(ledger, reported_cash=ledger.reported_cash + 7).encode()
    report = replace(chain_report, market_proof=replace(chain_report.market_proof, ledger=more))
    assert check_coverage(report).failures == [
        f"cash: the report's accounts hold {ledger.reported_cash}, the accounts under the state "
        f"root {ledger.reported_cash + 7} (a difference of -7)"
    ]


def test_a_list_that_does_not_decode_fails(chain_report: Report) -> None:
    proof = replace(chain_report.market_proof, reported_accounts=b"\x92\x01")
    (failure,) = check_coverage(replace(chain_report, market_proof=proof)).failures
    assert failure.startswith("the accounts under the state root cannot be read: ")
