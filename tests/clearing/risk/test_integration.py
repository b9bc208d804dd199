"""Margin and default management through process_block (the ledger's hooks)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.steps import INSURANCE
from clearing.state import ClearingState, get_collateral_value
from clearnode.client.sandbox_keys import MemberKey, derive_member_key
from devnet.sandbox import Sandbox
from tests.clearing.risk.sample import genesis_risk_section
from tests.clearing.support import USDC, genesis_doc
from tests.clearing.test_trade import MARK, PERP, VENUE, make_batch, make_trade

A, B, E = (derive_member_key(n) for n in ("risk-a", "risk-b", "risk-e"))
IM_PER_LONG_LOT = 21_120_000  # stress day 2020-03-13: BTC -35.2% of 60,000,000


def risk_box(epoch_length: int = 100) -> Sandbox:
    doc = genesis_doc()
    doc["risk"] = genesis_risk_section()
    doc["epoch_length_blocks"] = epoch_length
    box = Sandbox.from_genesis_doc(doc)
    funds = {A: 2_500_000_000, B: 10**11, E: 10**9}
    txs: list[object] = [box.credit(m.address, USDC, q) for m, q in funds.items()]
    txs += [box.authorise(m, VENUE) for m in (A, B)]
    assert all(r.is_ok() for r in box.apply(txs).tx_results)  # type: ignore[arg-type]
    return box


def trade(box: Sandbox, buyer: MemberKey, seller: MemberKey, lots: int, trade_id: int) -> list[str]:
    batch = make_batch(box, [make_trade(trade_id, buyer, seller, MARK, lots)], trade_id)
    block = box.apply([batch])
    return [str(e.get("code")) for e in block.tx_results[0].events if e.kind == "trade_rejected"]


def total_value(state: ClearingState) -> int:
    accounts = sum(
        a.cash + get_collateral_value(state, a)
        for m in state.members.values()
        for a in m.sub_accounts.values()
    )
    funds = sum(m.default_fund for m in state.members.values())
    return state.insurance_fund + state.fee_pool + accounts + funds


def test_pre_trade_rule_rejects_risk_beyond_equity_with_the_numbers() -> None:
    box = risk_box()
    assert trade(box, A, B, 200, 1) == ["InsufficientMargin"]  # needs 200 * 21.12M > 2.5G
    assert PERP not in box.state.members[A.address].sub_accounts[0].positions
    assert trade(box, A, B, 100, 2) == []  # 2.112G of IM against 2.5G of equity
    assert trade(box, B, A, 50, 3) == []  # reducing risk is always accepted


def test_withdrawal_must_leave_initial_margin_covered() -> None:
    box = risk_box()
    assert trade(box, A, B, 100, 1) == []
    block = box.apply([box.withdraw(A, USDC, 500_000_000)])
    assert block.tx_results[0].code == "InsufficientEquity"
    assert f"requirement={100 * IM_PER_LONG_LOT}" in block.tx_results[0].detail
    assert box.apply([box.withdraw(A, USDC, 100_000_000)]).tx_results[0].is_ok()


def test_crash_liquidates_through_blocks_and_conserves_value() -> None:
    box = risk_box()
    assert trade(box, A, B, 100, 1) == []
    before = total_value(box.state)
    events = []
    price = MARK
    for _ in range(5):  # the oracle clamps each block's move to 10%: five steps to -30%
        price = max(price * 9 // 10, MARK * 7 // 10)
        block = box.apply([box.prices({"BTC/0.001": price}, {PERP: price})])
        assert block.tx_results[0].is_ok()
        events += list(block.events)
    assert box.state.mark_prices[PERP] == MARK * 7 // 10
    kinds = [e.kind for e in events]
    assert "liquidated" in kinds and "liquidation_fee" in kinds
    taken = [e for e in events if e.kind == "liquidated"]
    assert all(e.get("member") == A.address and e.get("counterparty") == INSURANCE[0]
               for e in taken)  # fmt: skip
    assert total_value(box.state) == before
    lots = [a.positions[PERP].quantity for m in box.state.members.values()
            for a in m.sub_accounts.values() if PERP in a.positions]  # fmt: skip
    assert sum(lots) == 0
    e_account = box.state.members[E.address].sub_accounts[0]
    assert e_account.cash == 0 and e_account.collateral == {USDC: 10**9}  # E untouched


def test_epoch_sizes_the_default_fund_and_tops_up() -> None:
    box = risk_box(epoch_length=3)  # genesis funding was height 1; trade at 2; epoch at 3
    assert trade(box, A, B, 10, 1) == []
    block = box.apply([])
    required = {e.get("member"): e.get("amount") for e in block.events
                if e.kind == "contribution_required"}  # fmt: skip
    assert required[E.address] == 0
    assert sum(required.values()) > 0
    for m in (A, B):
        posted = box.state.members[m.address].default_fund
        assert posted == required[m.address]


def test_state_solvency_form_matches_the_engine_check() -> None:
    from clearing.risk.engine import (
        get_account_initial_margin,
        get_quantities,
        get_state_solvency_form,
    )
    from clearing.risk.solvency import get_solvency_inputs

    box = risk_box()
    assert trade(box, A, B, 100, 1) == []
    form = get_state_solvency_form(box.state)
    assert form is not None and form.input_labels[0] == "cash"
    k_num, k_den = 1, 2
    for member in box.state.members.values():
        for account in member.sub_accounts.values():
            equity = account.cash + get_collateral_value(box.state, account)
            im = get_account_initial_margin(box.state, account)
            inputs = get_solvency_inputs(
                form, account.cash, account.collateral, get_quantities(account)
            )
            assert form.is_solvent(inputs) == (k_den * equity >= k_num * im)
            assert min(form.evaluate(inputs)) == k_den * equity - k_num * im


def test_member_query_uses_the_engine_numbers() -> None:
    from clearing.risk.engine import get_account_initial_margin, get_member_risk

    box = risk_box()
    assert trade(box, A, B, 100, 1) == []
    risk = get_member_risk(box.state, A.address, 0)
    account = box.state.members[A.address].sub_accounts[0]
    assert risk is not None
    assert (
        risk.initial_margin
        == get_account_initial_margin(box.state, account)
        == 100 * IM_PER_LONG_LOT
    )
    assert risk.equity == account.cash + get_collateral_value(box.state, account)
    assert risk.maintenance_margin == 50 * IM_PER_LONG_LOT
    ((iid, price),) = risk.liquidation_prices
    assert iid == PERP and price is not None and price < MARK  # the engine's flip: test_queries
    assert get_member_risk(box.state, E.address, 7) is None


@settings(max_examples=15)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 150)), min_size=1, max_size=6))
def test_no_accepted_trade_leaves_raised_risk_uncovered(orders: list[tuple[bool, int]]) -> None:
    from clearing.risk.engine import get_account_initial_margin

    box = risk_box()
    for n, (a_buys, lots) in enumerate(orders, 1):
        state = box.state
        accounts = [state.members[m.address].sub_accounts[0] for m in (A, B)]
        before = [get_account_initial_margin(state, x) for x in accounts]
        rejected = trade(box, *((A, B) if a_buys else (B, A)), lots, n)
        for account, im_before in zip(accounts, before, strict=True):
            im = get_account_initial_margin(state, account)
            equity = account.cash + get_collateral_value(state, account)
            assert im <= im_before or equity >= im
        assert rejected in ([], ["InsufficientMargin"])


def test_instruments_without_a_mark_are_left_out_of_the_arrays() -> None:
    from clearing.risk.engine import get_risk_arrays, get_risk_setup

    doc = genesis_doc()
    doc["risk"] = genesis_risk_section()
    box = Sandbox.from_genesis_doc(doc)
    del box.state.mark_prices["BTC-26DEC26"]  # the future an option is written on
    setup = get_risk_setup(box.state)
    assert setup is not None
    arrays = get_risk_arrays(box.state, setup)
    assert arrays.instrument_ids == ("BTC-PERP", "ETH-PERP")
