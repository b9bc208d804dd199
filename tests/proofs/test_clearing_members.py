"""Per clearing member, its house and its clients' accounts as the report proves them,
from the roles under the report's state root; nothing shown from roles that are not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clearing.published_roles import PublishedRoles
from clearing.roles import NO_MEMBER, SegregationModel
from proofs.clearing_members import (
    ReportAccounts,
    check_clearing_members,
    describe_clearing_member,
    describe_client_in_default,
)
from proofs.report import Report, decode_report
from records.codec import DecodeError
from tests.node.reports.support import MEMBERS
from tests.proofs.conftest import Fixture
from tests.vectors.make_reports import OMNIBUS_CLIENT, PAIR, REPORTS, SHORT

M0, M2 = MEMBERS[0].address, MEMBERS[2].address
INSOLVENT, COUNTERPARTY = PAIR[0].address, PAIR[1].address
SEGREGATED, OMNIBUS = SegregationModel.SEGREGATED, SegregationModel.OMNIBUS


@pytest.fixture(scope="module")
def honest() -> Report:
    """Members 0 and 2 clear; the short (in default) is member 0's segregated client and
    member 2 has an omnibus client without an account. The offsetting pair clear for
    themselves, one of them in default. The committed honest vector, read, not proven
    again (tests/vectors/test_reports.py holds it to what make_world proves)."""
    return decode_report((REPORTS / "valid" / "report.bin").read_bytes())


def test_each_member_shows_its_house_and_clients_and_a_client_in_default_its_guarantor(
    honest: Report,
) -> None:
    verdict = check_clearing_members(honest)
    assert verdict.ok and not verdict.not_checked
    assert verdict.passed == [
        "roles under the state root: 4 clearing members, 2 client accounts",
        f"clearing member 0x{INSOLVENT.hex()}: house: 0 sub-accounts proven solvent, 1 in "
        "default; 0 client accounts (0 omnibus, 0 segregated)",
        f"clearing member 0x{M0.hex()}: house: 1 sub-account proven solvent; 1 client account "
        "(0 omnibus, 1 segregated), each margined on its own with its own collateral: 0 proven "
        "solvent, 1 in default",
        f"clearing member 0x{M2.hex()}: house: 1 sub-account proven solvent; 1 client account "
        "(1 omnibus, 0 segregated), each margined on its own with its own collateral: 0 proven "
        "solvent, 1 empty",
        f"clearing member 0x{COUNTERPARTY.hex()}: house: 1 sub-account proven solvent; 0 client "
        "accounts (0 omnibus, 0 segregated)",
        f"client 0x{SHORT.hex()} sub 0 (segregated) in default, equity 1000000: its own "
        f"collateral, then its clearing member 0x{M0.hex()}'s house, meet the shortfall before "
        "anything mutualised",
    ]
    assert not any("position" in line for line in verdict.passed)  # no client's holdings


def test_roles_not_under_the_root_are_not_shown(honest: Report) -> None:
    roles = PublishedRoles.decode(honest.market_proof.roles)
    fewer = replace(roles, clients=roles.clients[:1])
    report = replace(honest, market_proof=replace(honest.market_proof, roles=fewer.encode()))
    verdict = check_clearing_members(report)
    assert verdict.passed == [] and verdict.failures == []
    assert verdict.not_checked == [
        "clearing members not shown: the roles the report carries are not under its state root"
    ]


def test_open_membership_says_every_account_clears_for_itself(signed: Fixture) -> None:
    assert check_clearing_members(signed.report).passed == [
        "open membership: every account clears for itself"
    ]


def test_a_member_without_clients_or_account_and_a_client_without_a_member(
    honest: Report,
) -> None:
    accounts = ReportAccounts(honest)
    assert describe_clearing_member(accounts, bytes([0xAB]) * 20, []) == (
        f"clearing member 0x{'ab' * 20}: house: no account; 0 client accounts (0 omnibus, "
        "0 segregated)"
    )
    detached = [(SHORT, NO_MEMBER, SEGREGATED)]
    assert describe_clearing_member(accounts, M0, detached).endswith("1 in default")
    entry = next(d for d in honest.in_default if d.owner == SHORT)
    assert describe_client_in_default(honest, entry, NO_MEMBER, SEGREGATED) == (
        f"client 0x{SHORT.hex()} sub 0 (segregated) in default, equity 1000000: no clearing "
        "member guarantees it; the waterfall meets it"
    )  # the browser verifier's words (web/verifier/src/clearing.ts)


def test_published_roles_decode_only_canonical_bytes() -> None:
    roles = PublishedRoles((M0, M2), ((OMNIBUS_CLIENT, M2, OMNIBUS), (SHORT, M0, SEGREGATED)))
    assert PublishedRoles.decode(roles.encode()) == roles
    for bad in (
        PublishedRoles((M2, M0), ()),  # unsorted members
        PublishedRoles((), ((SHORT, M0, SEGREGATED), (SHORT, M2, OMNIBUS))),  # a client twice
    ):
        with pytest.raises(DecodeError):
            PublishedRoles.decode(bad.encode())
    with pytest.raises(DecodeError):
        PublishedRoles.decode(roles.encode()[:-1])
