"""The defaults and accounts in default a report publishes, checked against its state
root (proofs/disclosed.py): the chain's pass, made-up ones that add up fail, named."""

from __future__ import annotations

from dataclasses import replace

from clearing.default.house import HOUSE, get_house_equity
from clearing.state import DefaultRecord, get_sub_account_for_write
from clearing.transition.root import compute_state_root
from node.reports.inputs import extract_report_inputs
from node.reports.worker import build_unsigned_report
from proofs.disclosed import check_disclosed
from proofs.report import DefaultAccount, DefaultEntry, Report, decode_report
from tests.clearing.default.test_records import crash_mid_epoch
from tests.node.reports.support import SEED
from tests.node.reports.test_default_report import crashed


def report_with_defaults() -> Report:
    box, _, _ = crash_mid_epoch()  # A and B default in block 4
    box.apply([])
    box.apply([])
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None and len(inputs.defaults) == 2
    return decode_report(build_unsigned_report(inputs, SEED).encode())


def report_with_house_short() -> Report:
    box = crashed()
    house = get_sub_account_for_write(box.state, *HOUSE)
    house.cash -= get_house_equity(box.state) + 1_234 + 777
    box.state.insurance_fund += 777  # the house's inputs add it to its cash
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    report = decode_report(build_unsigned_report(inputs, SEED).encode())
    assert [d.key for d in report.in_default] == [HOUSE]
    return report


def test_the_chains_defaults_are_the_committed_ones() -> None:
    verdict = check_disclosed(report_with_defaults())
    assert verdict.ok, verdict.failures
    assert "the 2 defaults listed are the ones committed under the state root" in verdict.passed


def test_a_made_up_default_that_adds_up_is_not_committed() -> None:
    report = report_with_defaults()
    made_up = DefaultRecord(4, bytes([0xCD]) * 20, 0, 1_000, 600, 150, 100, 80, 40, 25, 5)
    assert made_up.is_covered()
    listed = tuple(sorted((*report.defaults, made_up), key=DefaultRecord.get_key))
    failures = check_disclosed(replace(report, defaults=listed)).failures
    assert failures == [
        f"member 0x{'cd' * 20} sub 0 defaulted in block 4 with deficit 1000: collateral 600, "
        "own default fund 150, insurance fund 100, others' default fund 80, assessments 40, "
        "deleveraging 25, uncovered 5: not committed under the state root"
    ]


def test_a_default_left_out_is_named() -> None:
    report = report_with_defaults()
    failures = check_disclosed(replace(report, defaults=report.defaults[1:])).failures
    assert len(failures) == 1 and failures[0].endswith("committed under the state root, not listed")


def test_the_house_short_is_recomputed_from_its_account_and_the_insurance_fund() -> None:
    report = report_with_house_short()
    verdict = check_disclosed(report)
    assert verdict.ok, verdict.failures
    assert verdict.passed[-1] == (
        "the 1 accounts in default are recomputed from their owners' account records under "
        "the state root"
    )
    house = report.in_default[0]
    deeper = replace(house, inputs=(house.inputs[0] - 1, *house.inputs[1:]))
    failures = check_disclosed(replace(report, in_default=(deeper,))).failures
    assert failures == [
        f"account 0x{'00' * 20}/0 in default: 'cash' is published as {house.inputs[0] - 1}, "
        f"the account holds {house.inputs[0]}"
    ]


def test_a_made_up_insolvent_account_has_no_record_under_the_root() -> None:
    report = report_with_house_short()
    width = len(report.statement.input_labels)
    made_up = DefaultEntry(bytes([0xEE]) * 20, 0, (-5, *(0,) * (width - 1)))
    listed = (*report.in_default, made_up)
    failures = check_disclosed(replace(report, in_default=listed)).failures
    assert failures == [
        f"account 0x{'ee' * 20}/0 in default: the report carries no account record of its owner"
    ]
    # its record made up too: not under the accounts root
    record = replace(report.default_accounts[0], owner=made_up.owner)
    forged = replace(report, in_default=listed, default_accounts=(*report.default_accounts, record))
    assert check_disclosed(forged).failures == [
        f"account 0x{'ee' * 20}/0 in default: its owner's account record is not under the "
        f"accounts root 0x{report.market_proof.accounts_root.hex()}"
    ]


def test_a_record_of_an_owner_not_in_default_is_refused() -> None:
    report = report_with_house_short()
    extra = DefaultAccount(bytes([0x01]) * 20, b"", ())
    failures = check_disclosed(replace(report, default_accounts=(*report.default_accounts, extra)))
    assert failures.failures == [
        f"the report carries the account of 0x{'01' * 20}, which has no account in default"
    ]
