"""What a report shows per clearing member: its house, and its clients' accounts as their
segregation model requires, without any client's positions.

The roles come from under the report's state root (clearing/published_roles.py). Each
client is an address of its own, margined on its own with its own collateral in both
models (clearing/roles.py: an individually segregated account alone, an omnibus one
gross and with its collateral attributed client by client), so what each model
requires is that every client account meets the statement by itself: proven like any
account, or listed in default in the clear. A client in default is met by its own
collateral, then by its clearing member's house, before anything mutualised: the
verifier names that member.
"""

from __future__ import annotations

from collections.abc import Sequence

from clearing.published_roles import ClientRole, PublishedRoles
from clearing.roles import NO_MEMBER, SegregationModel
from proofs.checks import Verdict
from proofs.errors import StatementError
from proofs.report import DefaultEntry, Report, get_equity
from records.codec import DecodeError


def check_clearing_members(report: Report) -> Verdict:
    """Per clearing member its house and its clients' accounts, as the report proves
    them; not shown when the roles the report carries are not under its state root."""
    verdict = Verdict()
    if report.market_proof.get_root(report.market) != report.state_root:
        verdict.not_checked.append(
            "clearing members not shown: the roles the report carries are not under its state root"
        )
        return verdict
    try:
        roles = PublishedRoles.decode(report.market_proof.roles)
    except DecodeError as exc:
        verdict.failures.append(f"clearing members: the roles under the state root do not "
                                f"decode: {exc}")  # fmt: skip
        return verdict
    if not roles.clearing_members and not roles.clients:
        verdict.passed.append("open membership: every account clears for itself")
        return verdict
    members, clients = len(roles.clearing_members), len(roles.clients)
    verdict.passed.append(
        f"roles under the state root: {members} clearing member{'s' if members != 1 else ''}, "
        f"{clients} client account{'s' if clients != 1 else ''}"
    )
    accounts = ReportAccounts(report)
    by_member: dict[bytes, list[ClientRole]] = {}
    for role in roles.clients:
        by_member.setdefault(role[1], []).append(role)
    for member in roles.clearing_members:
        verdict.passed.append(describe_clearing_member(accounts, member,
                                                       by_member.get(member, [])))  # fmt: skip
    for client, member, model in roles.clients:
        if member == NO_MEMBER:
            verdict.passed.append(
                f"client 0x{client.hex()} ({model.value}) has no clearing member: its member "
                f"defaulted and no backup took it (it may join another before its positions "
                f"are closed out)"
            )
        for entry in accounts.get_in_default(client):
            verdict.passed.append(describe_client_in_default(report, entry, member, model))
    return verdict


class ReportAccounts:
    """The report's accounts by owner: proven sub-accounts, and those in default."""

    def __init__(self, report: Report) -> None:
        self.proven: dict[bytes, int] = {}
        for entry in report.accounts:
            self.proven[entry.owner] = self.proven.get(entry.owner, 0) + 1
        self.in_default: dict[bytes, list[DefaultEntry]] = {}
        for d in report.in_default:
            self.in_default.setdefault(d.owner, []).append(d)

    def get_proven(self, owner: bytes) -> int:
        return self.proven.get(owner, 0)

    def get_in_default(self, owner: bytes) -> list[DefaultEntry]:
        return self.in_default.get(owner, [])


def describe_clearing_member(
    accounts: ReportAccounts, member: bytes, clients: Sequence[ClientRole]
) -> str:
    proven, failing = accounts.get_proven(member), len(accounts.get_in_default(member))
    if proven == failing == 0:
        house = "house: no account"
    else:
        house = f"house: {proven} sub-account{'s' if proven != 1 else ''} proven solvent"
        house += f", {failing} in default" if failing else ""
    models = [model for _, _, model in clients]
    counts = ", ".join(f"{models.count(m)} {m.value}" for m in SegregationModel)
    defaulted = sum(1 for c, _, _ in clients if accounts.get_in_default(c))
    proven_clients = sum(
        1 for c, _, _ in clients if accounts.get_proven(c) and not accounts.get_in_default(c)
    )
    empty = len(clients) - defaulted - proven_clients
    text = (f"clearing member 0x{member.hex()}: {house}; {len(clients)} client "
            f"account{'s' if len(clients) != 1 else ''} ({counts})")  # fmt: skip
    if not clients:
        return text
    text += f", each margined on its own with its own collateral: {proven_clients} proven solvent"
    text += f", {empty} empty" if empty else ""
    return text + (f", {defaulted} in default" if defaulted else "")


def describe_client_in_default(
    report: Report, entry: DefaultEntry, member: bytes, model: SegregationModel
) -> str:
    try:
        equity = f"equity {get_equity(report.statement, entry.inputs)}"
    except StatementError:
        equity = "equity not read"
    who = f"client 0x{entry.owner.hex()} sub {entry.subaccount} ({model.value}) in default"
    if member == NO_MEMBER:
        return f"{who}, {equity}: no clearing member guarantees it; the waterfall meets it"
    return (f"{who}, {equity}: its own collateral, then its clearing member 0x{member.hex()}'s "
            f"house, meet the shortfall before anything mutualised")  # fmt: skip
