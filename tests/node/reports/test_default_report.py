"""A report of a state with accounts in default: proven accounts, defaulters in the clear,
and what a member learns of the clearing house (node/reports/inputs.py, proofs/report.py)."""

from __future__ import annotations

from dataclasses import replace

from clearing.default.house import HOUSE, get_house_equity
from clearing.state import Position, get_sub_account_for_write
from clearing.transition.root import compute_state_root
from node.reports.inputs import extract_report_inputs
from node.reports.worker import build_unsigned_report
from proofs.checks import verify_report
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.report import decode_report
from tests.clearing.default.test_crash_ledger import A, B, C, crash_box, trades
from tests.clearing.default.test_records import crash_mid_epoch, sum_paid
from tests.node.reports.support import SEED


def crashed():  # type: ignore[no-untyped-def]
    """The crash of test_crash_ledger: two members default; the house keeps lots."""
    box = crash_box()
    trades(box)
    box.apply([])
    marks = dict(box.state.mark_prices)
    crashed = {k: marks[k] * 7 // 10 for k in ("BTC-PERP", "ETH-PERP")}
    box.apply([box.prices({"BTC/0.001": crashed["BTC-PERP"], "ETH/0.01": crashed["ETH-PERP"]},
                          crashed)])  # fmt: skip
    return box


def test_a_report_of_a_state_with_defaults_is_built_and_verified() -> None:
    box = crashed()  # A and B defaulted: flat, nothing left, the waterfall paid the rest
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    report = build_unsigned_report(inputs, SEED)
    verdict = verify_report(get_generators(FAST), report, None, box.chain_id)
    assert verdict.ok, verdict.failures
    proven = {a.key for a in report.accounts}
    assert {(A.address, 0), (B.address, 0)} <= proven  # defaulted and resolved: proven
    assert "the clearing house is whole: its account is proven or empty" in verdict.passed


def test_the_house_holding_lots_below_its_requirement_is_listed_not_blocking() -> None:
    box = crashed()
    mark = box.state.mark_prices["BTC-PERP"]
    house = get_sub_account_for_write(box.state, *HOUSE)
    house.positions["BTC-PERP"] = Position(50, mark, mark, 0, 0)  # lots awaiting auction
    c = get_sub_account_for_write(box.state, C.address, 0)
    c.positions["BTC-PERP"] = replace(
        c.positions["BTC-PERP"], quantity=c.positions["BTC-PERP"].quantity - 50
    )
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    report = build_unsigned_report(inputs, SEED)
    assert [d.key for d in report.in_default] == [HOUSE]
    verdict = verify_report(get_generators(FAST), report, None, box.chain_id)
    assert verdict.ok, verdict.failures
    assert any(line.startswith("the clearing house is whole (equity") for line in verdict.passed)


def test_an_uncovered_deficit_is_stated_exactly() -> None:
    box = crashed()
    house = get_sub_account_for_write(box.state, *HOUSE)
    house.cash -= get_house_equity(box.state) + 1_234  # the house short by 1,234 units
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    report = build_unsigned_report(inputs, SEED)
    assert HOUSE in {d.key for d in report.in_default}
    verdict = verify_report(get_generators(FAST), report, None, box.chain_id)
    assert verdict.ok, verdict.failures
    assert "the clearing house is short by 1234 (an uncovered deficit)" in verdict.passed


def test_a_default_mid_epoch_is_listed_with_its_waterfall_and_verified() -> None:
    box, events, deficits = crash_mid_epoch()  # A and B default in block 4
    box.apply([])
    box.apply([])  # block 6 ends epoch 2: its report is built from this state
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None and inputs.epoch == 2
    report = decode_report(build_unsigned_report(inputs, SEED).encode())
    assert [(r.height, r.member, r.deficit) for r in report.defaults] == sorted(
        (4, m, d) for m, d in deficits.items()
    )
    verdict = verify_report(get_generators(FAST), report, None, box.chain_id)
    assert verdict.ok, verdict.failures
    b = next(r for r in report.defaults if r.member == B.address)
    mutualised = sum_paid(events, "contribution_mutualised", counterparty=B.address)
    line = (f"member 0x{B.address.hex()} sub 0 defaulted in block 4 with deficit "
            f"{deficits[B.address]}: collateral 1985000000, own default fund "
            f"{b.from_own_contribution}, insurance fund {b.from_insurance}, others' default "
            f"fund {mutualised}, assessments 0, deleveraging {b.from_deleveraging}, "
            f"uncovered 0")  # fmt: skip
    assert line in verdict.passed

    less = tuple(replace(r, from_insurance=r.from_insurance - 1) if r is b else r
                 for r in report.defaults)  # fmt: skip
    tampered = replace(report, defaults=less)
    failures = verify_report(get_generators(FAST), decode_report(tampered.encode()), None).failures
    assert failures == [
        f"member 0x{B.address.hex()} sub 0 defaulted in block 4 with deficit "
        f"{deficits[B.address]}: collateral 1985000000, own default fund "
        f"{b.from_own_contribution}, insurance fund {b.from_insurance - 1}, others' default "
        f"fund {mutualised}, assessments 0, deleveraging {b.from_deleveraging}, uncovered 0: "
        f"the layers add up to {deficits[B.address] - 1}, not the deficit"
    ]


def test_the_epoch_after_lists_no_default() -> None:
    box, _, _ = crash_mid_epoch()
    for _ in range(5):
        box.apply([])  # block 9 ends epoch 3, which had no default
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None and inputs.epoch == 3
    report = build_unsigned_report(inputs, SEED)
    assert report.defaults == ()
    verdict = verify_report(get_generators(FAST), report, None, box.chain_id)
    assert verdict.ok and "no sub-account defaulted this epoch" in verdict.passed
