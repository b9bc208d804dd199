"""A report covers every account under its state root: none left out, none made up.

Every proof of a report can verify while the report leaves out an account: an insolvent
member holding only cash, an insolvent member together with the counterparty whose
position offsets it (the book stays flat), the last account of the tree, one opened in
the epoch's last block. So the state root commits to the list of accounts a report must
cover (``clearing.transition.reported_accounts``) and, in the published ledger, to their cash; the
market proof carries both. A verifier holding the report and the anchored root alone
checks that the report proves or lists in default exactly the listed accounts, naming
each one missing or not listed, and that the cash its accounts hold (the cash
aggregate, which the sum of the proven accounts' commitments opens to, plus the cash
published of the accounts in default) is the cash under the root. With the collateral
totals (proofs/reserves.py) and the flat book (proofs/aggregate.py), every label of every
account enters the report's sums.

What the list and the sums cannot rule out alone: a quorum that commits to other
values for two listed accounts whose sum is unchanged (one member's loss moved onto
another's account). Each member sees its own account's values with its openings and
its account record under the root (proofs/member_account.py), which docs/member.md asks
members to check.
"""

from __future__ import annotations

from clearing.published_ledger import PublishedLedger
from clearing.risk.solvency import CASH_LABEL
from clearing.transition.reported_accounts import AccountKey, ReportedAccounts
from proofs.checks import Verdict
from proofs.report import Report, describe_account
from records.codec import DecodeError


def check_coverage(report: Report) -> Verdict:
    verdict = Verdict()
    try:
        reported = ReportedAccounts.decode(report.market_proof.reported_accounts)
        ledger = PublishedLedger.decode(report.market_proof.ledger)
    except DecodeError as exc:
        verdict.failures.append(f"the accounts under the state root cannot be read: {exc}")
        return verdict
    failures = compare_accounts(report, reported.keys)
    verdict.failures.extend(failures)
    if not failures:
        verdict.passed.append(
            f"the report covers every account under the state root ({len(reported.keys)}: "
            f"{len(report.accounts)} proven, {len(report.in_default)} in default)"
        )
    failures = compare_cash(report, ledger)
    verdict.failures.extend(failures)
    if not failures:
        verdict.passed.append(
            f"the report's accounts hold the cash under the state root ({ledger.reported_cash})"
        )
    return verdict


def compare_accounts(report: Report, listed: tuple[AccountKey, ...]) -> list[str]:
    """Each account under the root the report leaves out, and each it covers that the
    root does not list, by name."""
    covered = {e.key for e in report.accounts} | {d.key for d in report.in_default}
    under_root = set(listed)
    missing = sorted(under_root - covered)
    extra = sorted(covered - under_root)
    failures = [
        f"{describe_account(k)} is under the state root, not in the report" for k in missing
    ]
    failures += [f"{describe_account(k)} is in the report, not under the state root" for k in extra]
    if failures:
        failures.append(
            f"the report covers {len(covered)} accounts, the state root lists {len(listed)}"
        )
    return failures


def compare_cash(report: Report, ledger: PublishedLedger) -> list[str]:
    total = report.get_total(CASH_LABEL)
    if total is None:
        return ["the report has no cash aggregate to compare with the state root's cash"]
    if total == ledger.reported_cash:
        return []
    return [
        f"cash: the report's accounts hold {total}, the accounts under the state root "
        f"{ledger.reported_cash} (a difference of {total - ledger.reported_cash})"
    ]
