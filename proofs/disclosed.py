"""What a report publishes in the clear, checked against the state root.

A quorum signs whatever it likes: a made-up default whose layers add up, or a
made-up account in default with inputs that fail the statement, would pass every
check of the report alone. So the defaults it lists must be the published ledger's
(``clearing.published_ledger``, a leaf of the state root the market proof carries),
and each account it lists in default must be recomputed, label by label, from its
owner's account record proven under the market proof's accounts root (the clearing
house's cash with the ledger's insurance fund added, as the prover adds it).
"""

from __future__ import annotations

from clearing.default.house import HOUSE
from clearing.merkle import compute_root_from_proof, hash_leaf
from clearing.published_ledger import PublishedLedger
from clearing.risk.solvency import get_labelled_holdings
from clearing.state import Member
from clearing.transition.snapshot import decode_member
from proofs.checks import Verdict, describe_default
from proofs.member_account import compare_holdings
from proofs.report import DefaultAccount, Report
from records.codec import DecodeError


def check_disclosed(report: Report) -> Verdict:
    verdict = Verdict()
    try:
        ledger = PublishedLedger.decode(report.market_proof.ledger)
    except DecodeError as exc:
        verdict.failures.append(f"the published ledger does not decode: {exc}")
        return verdict
    verdict.failures.extend(compare_defaults(report, ledger))
    if not verdict.failures:
        verdict.passed.append(f"the {len(report.defaults)} defaults listed are the ones "
                              "committed under the state root")  # fmt: skip
    failures = check_in_default_accounts(report, ledger)
    verdict.failures.extend(failures)
    if not failures and report.in_default:
        verdict.passed.append(
            f"the {len(report.in_default)} accounts in default are recomputed from their "
            "owners' account records under the state root"
        )
    return verdict


def compare_defaults(report: Report, ledger: PublishedLedger) -> list[str]:
    committed, listed = set(ledger.defaults), set(report.defaults)
    return [
        *(f"{describe_default(r)}: not committed under the state root"
          for r in report.defaults if r not in committed),
        *(f"{describe_default(r)}: committed under the state root, not listed"
          for r in ledger.defaults if r not in listed),
    ]  # fmt: skip


def check_in_default_accounts(report: Report, ledger: PublishedLedger) -> list[str]:
    records = {a.owner: a for a in report.default_accounts}
    owners = {d.owner for d in report.in_default}
    failures = [
        f"the report carries the account of 0x{owner.hex()}, which has no account in default"
        for owner in sorted(records.keys() - owners)
    ]
    members: dict[bytes, Member | str] = {
        owner: _read_member(report, records[owner]) for owner in sorted(owners & records.keys())
    }
    for entry in report.in_default:
        name = f"{entry.describe()} in default"
        member = members.get(entry.owner)
        if member is None:
            failures.append(f"{name}: the report carries no account record of its owner")
            continue
        if isinstance(member, str):
            failures.append(f"{name}: {member}")
            continue
        account = member.sub_accounts.get(entry.subaccount)
        if account is None:
            failures.append(f"{name}: its owner's account under the state root has no such "
                            "sub-account")  # fmt: skip
            continue
        holdings = get_labelled_holdings(account)
        if entry.key == HOUSE:  # the prover adds the insurance fund to the house's cash
            cash = holdings.pop("cash", 0) + ledger.insurance_fund
            holdings.update({"cash": cash} if cash else {})
        labels = report.statement.input_labels
        wrong = compare_holdings(labels, entry.inputs, holdings, "is published as")
        if wrong:
            failures.append(f"{name}: " + "; ".join(wrong))
    return failures


def _read_member(report: Report, record: DefaultAccount) -> Member | str:
    """The owner's account, or why it is not the one under the market proof's root."""
    root = report.market_proof.accounts_root
    leaf = hash_leaf(record.owner, record.account)
    if compute_root_from_proof(leaf, list(record.steps)) != root:
        return f"its owner's account record is not under the accounts root 0x{root.hex()}"
    try:
        member = decode_member(record.account)
    except DecodeError as exc:
        return f"its owner's account record does not decode: {exc}"
    if member.address != record.owner:
        return f"the account record under the root is of 0x{member.address.hex()}"
    return member
