"""A member's openings checked against its own account under the report's state root.

The commitments opening to some values proves only that the quorum committed those
values. With its account record and the record's inclusion proof under the report's
state root (which the anchor ties to the chain), the member checks they are its real
holdings at the epoch's last block: every reported sub-account opened, each value
what the record holds under that label, and nothing it holds left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from clearing.risk.solvency import get_labelled_holdings
from clearing.transition.reported_accounts import is_reported
from proofs.account_proof import AccountProofError, check_account_proof
from proofs.checks import Verdict
from proofs.openings import MemberOpenings
from proofs.report import Report


def compare_holdings(
    labels: Sequence[str], values: Sequence[int], holdings: dict[str, int], verb: str
) -> list[str]:
    """Each way `values` (by `labels`) differ from what a sub-account's record holds
    (``get_labelled_holdings``, consumed): what a member's openings and an account in
    default, both read against the record under the root, are checked with."""
    held = [holdings.pop(label, 0) for label in labels]
    wrong = [
        f"{label!r} {verb} {value}, the account holds {h}"
        for label, value, h in zip(labels, values, held, strict=True)
        if value != h
    ]
    wrong.extend(
        f"it holds {q} of {label!r}, not in the statement" for label, q in holdings.items()
    )
    return wrong


def check_member_account(report: Report, openings: MemberOpenings) -> Verdict:
    verdict = Verdict()
    found = openings.account_proof
    height = report.height
    if found is None:
        verdict.not_checked.append(
            "your openings not compared with your account: they carry no account proof "
            "(a validator's POST /v1/reports/{epoch}/openings adds it)"
        )
        return verdict
    if found.member != openings.owner:
        verdict.failures.append(
            f"the account proof is of 0x{found.member.hex()}, not 0x{openings.owner.hex()}"
        )
        return verdict
    try:
        member = check_account_proof(found, report.state_root, height)
    except AccountProofError as exc:
        verdict.failures.append(f"your account is not proven under the report's root: {exc}")
        return verdict
    verdict.passed.append(
        f"your account record is under the report's state root at height {height}"
    )
    opened = {a.subaccount: a.values for a in openings.accounts}
    for sub, account in sorted(member.sub_accounts.items()):
        name = f"account 0x{openings.owner.hex()}/{sub}"
        if not is_reported((openings.owner, sub), account):
            continue
        values = opened.pop(sub, None)
        if values is None:
            verdict.failures.append(f"{name} holds funds or positions, but is not opened")
            continue
        wrong = compare_holdings(
            openings.labels, values, get_labelled_holdings(account), "opens to"
        )
        if wrong:
            verdict.failures.append(f"{name}: " + "; ".join(wrong))
        else:
            verdict.passed.append(f"{name}: the opened values are the account's holdings")
    verdict.failures.extend(
        f"account 0x{openings.owner.hex()}/{sub} is opened but holds nothing under the root"
        for sub in sorted(opened)
    )
    return verdict
