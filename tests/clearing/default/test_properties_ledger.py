"""Default management properties through process_block, on random books and price shocks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.steps import INSURANCE
from clearing.risk.engine import get_account_initial_margin, get_quantities
from clearing.risk.margin import is_maintenance_met
from clearing.state import ClearingState, Position, get_collateral_value, get_sub_account_for_write
from devnet.sandbox import Sandbox
from tests.clearing.risk.sample import genesis_risk_section
from tests.clearing.support import USDC, fund_vaults, genesis_doc

MEMBERS = [bytes([n]) * 20 for n in range(1, 7)]
BTC = "BTC-PERP"


def total_value(state: ClearingState) -> int:
    accounts = sum(
        a.cash + get_collateral_value(state, a)
        for m in state.members.values()
        for a in m.sub_accounts.values()
    )
    funds = sum(m.default_fund for m in state.members.values())
    return accounts + funds + state.insurance_fund + state.fee_pool


@st.composite
def books(draw: st.DrawFn) -> tuple[list[tuple[int, int, int]], int, int]:
    lots = [draw(st.integers(-40, 40)) for _ in MEMBERS[1:]]
    lots.insert(0, -sum(lots))  # the book is flat
    cash = [draw(st.integers(0, 3 * 10**9)) for _ in MEMBERS]
    contributions = [draw(st.integers(0, 10**8)) for _ in MEMBERS]
    move_bps = draw(st.integers(-3000, 3000))
    fund = draw(st.integers(0, 10**9))
    return list(zip(lots, cash, contributions, strict=True)), move_bps, fund


@settings(max_examples=20)
@given(books())
def test_price_shock_through_blocks_conserves_value_and_leaves_nobody_below_mm(
    book: tuple[list[tuple[int, int, int]], int, int],
) -> None:
    rows, move_bps, fund = book
    doc = genesis_doc()
    doc["risk"] = genesis_risk_section(stress_days=[])
    doc["oracle"]["max_move_bps"] = 5000
    box = Sandbox.from_genesis_doc(doc)
    if fund:  # deposited to the clearing house's account: the insurance fund
        box.apply([box.credit(INSURANCE[0], USDC, fund)])
    state = box.state
    mark = state.mark_prices[BTC]
    for member, (lots, collateral, posted) in zip(MEMBERS, rows, strict=True):
        account = get_sub_account_for_write(state, member, 0)
        account.collateral[USDC] = collateral
        if lots:
            account.positions[BTC] = Position(lots, mark, mark, 0, 0)
            state.open_interest[BTC] += max(lots, 0)
        state.members[member].default_fund = posted
    fund_vaults(state)
    before = total_value(state)
    price = mark * (10_000 + move_bps) // 10_000
    block = box.apply([box.prices({"BTC/0.001": price}, {BTC: price})])
    assert block.tx_results[0].is_ok()
    assert total_value(state) == before
    lots_now = [
        a.positions[BTC].quantity
        for m in state.members.values()
        for a in m.sub_accounts.values()
        if BTC in a.positions
    ]
    assert sum(lots_now) == 0
    if {e.kind for e in block.events} & {"deleveraged", "uncovered"}:
        return  # every resource was used up
    for address, member in state.members.items():
        for sub, account in member.sub_accounts.items():
            if (address, sub) == INSURANCE or not get_quantities(account):
                continue
            equity = account.cash + get_collateral_value(state, account)
            assert is_maintenance_met(equity, get_account_initial_margin(state, account), 1, 2)
