"""A member's openings against its own account under the report's state root: a quorum
that commits a member's holdings wrongly (and hands out openings of the wrong values)
is caught by the member's account record and its inclusion proof, and a forged proof
proves nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clearing.transition.root import AccountProof
from node.reports.inputs import ReportInputs
from node.reports.worker import build_unsigned_report
from proofs.account_proof import AccountProofFile
from proofs.member_account import check_member_account
from proofs.openings import MemberOpenings, get_member_openings
from proofs.report import Report
from tests.node.reports.support import MEMBERS, SEED, epoch_report_inputs

BUYER = MEMBERS[0].address  # long 2 lots of BTC-PERP
BTC = "position:BTC-PERP"


@pytest.fixture(scope="module")
def world() -> tuple[ReportInputs, Report]:
    _, inputs = epoch_report_inputs()
    return inputs, build_unsigned_report(inputs, SEED)


def _openings(
    inputs: ReportInputs, values: dict[int, tuple[int, ...]], proof: AccountProofFile | None
) -> MemberOpenings:
    opened = get_member_openings(SEED, inputs.epoch, BUYER, inputs.input_labels, values)
    return replace(opened, account_proof=proof)


def _proof(inputs: ReportInputs, member: bytes = BUYER) -> AccountProofFile:
    account, proof = inputs.account_proofs[member]
    return AccountProofFile(
        inputs.chain_id, member, inputs.height, inputs.state_root, account, proof
    )


def test_the_honest_openings_are_the_account_under_the_root(
    world: tuple[ReportInputs, Report],
) -> None:
    inputs, report = world
    verdict = check_member_account(
        report, _openings(inputs, inputs.get_member_values(BUYER), _proof(inputs))
    )
    assert verdict.failures == [] and verdict.not_checked == []
    assert (
        f"account 0x{BUYER.hex()}/0: the opened values are the account's holdings" in verdict.passed
    )
    # the openings travel as JSON, the proof with them
    opened = _openings(inputs, inputs.get_member_values(BUYER), _proof(inputs))
    assert MemberOpenings.from_json(opened.to_json()) == opened


def test_a_quorum_that_commits_a_smaller_position_is_caught(
    world: tuple[ReportInputs, Report],
) -> None:
    inputs, _ = world
    column = inputs.input_labels.index(BTC)
    values = {sub: tuple(v - 1 if j == column else v for j, v in enumerate(vector))
              for sub, vector in inputs.get_member_values(BUYER).items()}  # fmt: skip
    verdict = check_member_account(world[1], _openings(inputs, values, _proof(inputs)))
    assert verdict.failures == [
        f"account 0x{BUYER.hex()}/0: {BTC!r} opens to 1, the account holds 2"
    ]


def test_an_omitted_sub_account_is_caught(world: tuple[ReportInputs, Report]) -> None:
    inputs, report = world
    verdict = check_member_account(report, _openings(inputs, {}, _proof(inputs)))
    assert verdict.failures == [
        f"account 0x{BUYER.hex()}/0 holds funds or positions, but is not opened"
    ]


def test_a_forged_inclusion_proof_proves_nothing(world: tuple[ReportInputs, Report]) -> None:
    inputs, report = world
    honest = _proof(inputs)
    (left, _), *rest = honest.proof.steps
    forged_path = AccountProof(((left, bytes(32)), *rest), honest.proof.globals_hash)
    other_account = inputs.account_proofs[MEMBERS[1].address][0]
    values = inputs.get_member_values(BUYER)
    for forged, reason in (
        (replace(honest, proof=forged_path), "is not the one under"),
        (replace(honest, account=other_account), "is not the one under"),
        (replace(honest, state_root=bytes(32)), "not 0x" + report.state_root.hex()),
        (replace(honest, height=inputs.height + 1), "not the expected"),
    ):
        verdict = check_member_account(report, _openings(inputs, values, forged))
        assert len(verdict.failures) == 1 and reason in verdict.failures[0], verdict.failures
        assert verdict.failures[0].startswith("your account is not proven under the report's root")
    someone_else = check_member_account(
        report, _openings(inputs, values, _proof(inputs, MEMBERS[1].address))
    )
    assert someone_else.failures == [
        f"the account proof is of 0x{MEMBERS[1].address.hex()}, not 0x{BUYER.hex()}"
    ]


def test_openings_without_a_proof_say_what_was_not_compared(
    world: tuple[ReportInputs, Report],
) -> None:
    inputs, report = world
    verdict = check_member_account(report, _openings(inputs, inputs.get_member_values(BUYER), None))
    assert verdict.failures == [] and "carry no account proof" in verdict.not_checked[0]
