"""Assessments of surviving members (clearing/default/liquidation.py, run_waterfall):
capped by genesis and by what the survivor's sub-account 0 can pay."""

from __future__ import annotations

from clearing.default.events import EventKind
from clearing.default.house import HOUSE
from clearing.default.liquidation import (
    DefaultBook,
    RiskAccount,
    get_initial_margin,
    process_liquidations,
)
from clearing.risk.engine import get_account_initial_margin
from clearing.state import Position, get_collateral_value, get_sub_account_for_write
from devnet.sandbox import Sandbox
from tests.clearing.default.test_liquidation import CTX, INSURANCE, MEMBERS
from tests.clearing.risk.sample import genesis_risk_section
from tests.clearing.support import USDC, fund_vaults, genesis_doc

BTC = "BTC-PERP"
DEFAULTER, WINNER, SURVIVOR = (bytes([n]) * 20 for n in (1, 2, 3))
USD = 1_000_000


def test_a_survivor_is_assessed_no_more_than_its_free_equity_on_the_ledger() -> None:
    """A crash defaults a levered long; the default fund is used up; a survivor whose
    sub-account 0 holds 5 USD (its contribution posted, nothing else at stake) is assessed.
    It pays 5 USD, not its genesis cap of 1,000: the rest is deleveraged, and nobody but
    the house ends the block with negative equity."""
    doc = genesis_doc()
    doc["risk"] = genesis_risk_section(
        stress_days=[],
        default_fund={"cover": 2, "stress_multiple": 2, "assessment_cap_bps": 10_000},
    )
    doc["oracle"]["max_move_bps"] = 5_000
    doc["insurance_fund"] = 0
    box = Sandbox.from_genesis_doc(doc)
    state = box.state
    mark = state.mark_prices[BTC]
    rows = {DEFAULTER: (100, 400 * USD), WINNER: (-100, 100_000 * USD), SURVIVOR: (0, 5 * USD)}
    for member, (lots, collateral) in rows.items():
        account = get_sub_account_for_write(state, member, 0)
        account.collateral[USDC] = collateral
        if lots:
            account.positions[BTC] = Position(lots, mark, mark, 0, 0)
    fund_vaults(state)
    state.open_interest[BTC] = 100
    state.members[SURVIVOR].default_fund = state.members[SURVIVOR].default_fund_required = (
        1_000 * USD
    )
    state.members[WINNER].default_fund_required = 100 * USD  # posted nothing: owes its cap
    crashed = mark * 7 // 10  # the defaulter loses 1,800 USD against 400 + 1,000 posted

    block = box.apply([box.prices({"BTC/0.001": crashed}, {BTC: crashed})])

    assert block.tx_results[0].is_ok()
    assessed = {e.get("member"): e.get("amount") for e in block.events if e.kind == "assessed"}
    assert assessed[SURVIVOR] == 5 * USD == state.members[SURVIVOR].assessed
    assert assessed[WINNER] == 100 * USD  # a survivor with free equity pays its whole cap
    assert any(e.kind == "deleveraged" for e in block.events)
    for address, record in state.members.items():
        for sub, account in record.sub_accounts.items():
            equity = account.cash + get_collateral_value(state, account)
            assert (address, sub) == HOUSE or equity >= 0, (address.hex(), equity)
    survivor = state.members[SURVIVOR].sub_accounts[0]
    assert survivor.cash + get_collateral_value(state, survivor) == 0
    winner = state.members[WINNER].sub_accounts[0]
    winner_equity = winner.cash + get_collateral_value(state, winner)
    assert winner_equity >= get_account_initial_margin(state, winner)


def test_an_assessment_leaves_the_survivor_at_its_initial_margin() -> None:
    """The same rule in the pure run: a survivor holding a position pays what it holds
    above initial margin, however much its cap would allow."""
    bankrupt, survivor = (MEMBERS[0], 0), (MEMBERS[1], 0)
    accounts = {
        bankrupt: RiskAccount(-5_000, 0, ()),  # flat and insolvent: the waterfall's turn
        survivor: RiskAccount(2_300, 0, (("X", 20, 1000),)),  # IM 2000: 300 free
        INSURANCE: RiskAccount(0, 0, (("X", -20, 1000),)),
    }
    book = DefaultBook(accounts, {}, {}, {MEMBERS[1]: 10_000})
    after, events = process_liquidations(book, CTX, (), INSURANCE)
    left = after.accounts[survivor]
    assert [(e.kind, e.amount) for e in events if e.kind == EventKind.ASSESSED] == [
        (EventKind.ASSESSED, 300)
    ]
    assert left.equity == get_initial_margin(left, CTX) == 2_000
    assert after.assessable[MEMBERS[1]] == 9_700  # the power not used stays for later
    assert sum(e.amount for e in events if e.kind == EventKind.UNCOVERED) == 4_700
