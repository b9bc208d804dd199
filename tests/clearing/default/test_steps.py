"""Default management on the real ledger state (configs/genesis.example.json + risk)."""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.default.steps import (
    INSURANCE,
    process_default_fund_step,
    process_liquidation_step,
)
from clearing.risk.engine import get_initial_margin_requirement, get_quantities
from clearing.settlement import process_mark_to_market
from clearing.state import ClearingState, Position, get_collateral_value, get_sub_account_for_write
from devnet.sandbox import Sandbox
from tests.clearing.risk.sample import genesis_risk_section
from tests.clearing.support import USDC, fund_vaults, genesis_doc

A, B, C, D, E = (bytes([n]) * 20 for n in range(1, 6))
BTC = "BTC-PERP"


def new_state(**risk: object) -> ClearingState:
    doc = genesis_doc()
    doc["risk"] = genesis_risk_section(**risk)
    return Sandbox.from_genesis_doc(doc).state


def give(state: ClearingState, member: bytes, cash: int, lots: int = 0, usdc: int = 0) -> None:
    account = get_sub_account_for_write(state, member, 0)
    account.cash = cash
    if usdc:
        account.collateral[USDC] = usdc
    if lots:
        mark = state.mark_prices[BTC]
        account.positions[BTC] = Position(lots, mark, mark, 0, 0)
        state.open_interest[BTC] += max(lots, 0)
    fund_vaults(state)


def total_value(state: ClearingState) -> int:
    return state.insurance_fund + sum(
        a.cash + get_collateral_value(state, a) + (m.default_fund if sub == 0 else 0)
        for m in state.members.values()
        for sub, a in m.sub_accounts.items()
    )


def net_lots(state: ClearingState) -> int:
    return sum(
        a.positions[BTC].quantity
        for m in state.members.values()
        for a in m.sub_accounts.values()
        if BTC in a.positions
    )


def test_initial_margin_requirement_from_genesis_risk() -> None:
    state = new_state(stress_days=[])
    give(state, A, 10**9, lots=100)
    # 100 lots of BTC-PERP at 60,000,000 per lot, 15% scan range
    assert get_initial_margin_requirement(state, A, 0) == 100 * 9_000_000
    assert get_initial_margin_requirement(state, B, 0) == 0


def test_crash_liquidates_on_the_ledger_and_conserves_value() -> None:
    state = new_state(stress_days=[])
    mark = state.mark_prices[BTC]
    give(state, A, 100 * 9_000_000, lots=100, usdc=50_000_000)  # long, IM covered
    give(state, B, 1_000_000_000, lots=-60)
    give(state, C, 1_000_000_000, lots=-40)
    give(state, E, 5_000_000)  # no positions
    for m, posted in ((A, 10_000_000), (B, 10_000_000), (C, 10_000_000)):
        state.members[m].default_fund = posted
    state.insurance_fund = 100_000_000  # small enough that the loss reaches ADL
    before = total_value(state)
    state.mark_prices[BTC] = mark * 7 // 10  # -30%
    ctx = BlockContext(state.height + 1, state.time_ms + 1000, state.chain_id)
    process_mark_to_market(state, ctx)
    events = process_liquidation_step(state, ctx)
    kinds = [e.kind for e in events]
    assert "collateral_seized" in kinds and "deleveraged" in kinds
    assert total_value(state) == before
    assert net_lots(state) == 0
    a = state.members[A].sub_accounts[0]
    assert a.cash == 0 and get_quantities(a) == {} and a.collateral == {}
    fund = state.members[INSURANCE[0]].sub_accounts[0]
    assert fund.collateral == {USDC: 50_000_000}  # seized collateral held by the fund
    assert state.members[E].sub_accounts[0].cash == 5_000_000
    assert state.open_interest[BTC] == sum(
        max(x.positions[BTC].quantity, 0) for m in state.members.values()
        for x in m.sub_accounts.values() if BTC in x.positions)  # fmt: skip


def test_epoch_sizing_tops_up_from_free_cash_or_flags_reduce_only() -> None:
    state = new_state(stress_days=[])
    give(state, A, 10**10, lots=100)  # rich: tops up
    give(state, B, 100 * 9_000_000, lots=-100)  # exactly at IM: cannot top up
    give(state, E, 10**9)  # no positions: owes nothing
    ctx = BlockContext(state.height + 1, state.time_ms + 1000, state.chain_id)
    events = process_default_fund_step(state, ctx)
    required = {e.get("member"): e.get("amount") for e in events
                if e.kind == "contribution_required"}  # fmt: skip
    assert required[E] == 0 and required[A] > 0 and required[B] > 0
    assert state.members[A].default_fund == required[A]
    assert state.members[E].default_fund == 0 and state.members[E].sub_accounts[0].cash == 10**9
    reduce_only = [e.get("member") for e in events if e.kind == "reduce_only"]
    assert reduce_only == [B]
    # The requirement is kept on the member, so trading can enforce reduce-only.
    assert state.members[B].default_fund_required == required[B] > state.members[B].default_fund
    assert state.members[A].default_fund_required == required[A] == state.members[A].default_fund


def test_epoch_returns_the_contribution_of_a_member_that_closed_out() -> None:
    state = new_state(stress_days=[])
    give(state, A, 10**10, lots=100)
    give(state, B, 10**10, lots=-100)
    give(state, E, 0)  # closed out earlier, contribution still posted
    state.members[E].default_fund = 70_000_000
    ctx = BlockContext(state.height + 1, state.time_ms + 1000, state.chain_id)
    events = process_default_fund_step(state, ctx)
    assert state.members[E].default_fund == 0
    assert state.members[E].sub_accounts[0].cash == 70_000_000
    returned = [(e.get("member"), e.get("amount")) for e in events
                if e.kind == "contribution_returned"]  # fmt: skip
    assert returned == [(E, 70_000_000)]
    posted = {e.get("member"): e.get("amount") for e in events if e.kind == "contribution_posted"}
    assert posted == {A: state.members[A].default_fund, B: state.members[B].default_fund}


def test_per_block_cap_leaves_the_rest_for_the_next_block_worst_first() -> None:
    liquidation = {"penalty_bps": 100, "fee_bps": 50, "max_per_block": 1, "partial_steps": 10}
    state = new_state(stress_days=[], liquidation=liquidation)
    mark = state.mark_prices[BTC]
    give(state, A, 900_000_000, lots=100)
    give(state, B, 800_000_000, lots=100)  # the same book with less cash: further below MM
    give(state, D, 10**11, lots=-200)
    state.mark_prices[BTC] = mark * 9 // 10  # -10%: both below maintenance
    liquidated = []
    for _ in range(3):
        ctx = BlockContext(state.height + 1, state.time_ms + 1000, state.chain_id)
        state.height, state.time_ms = ctx.height, ctx.time_ms
        process_mark_to_market(state, ctx)
        events = process_liquidation_step(state, ctx)
        liquidated.append({e.get("member") for e in events if e.kind == "liquidated"})
    assert liquidated == [{B}, {A}, set()]
    assert net_lots(state) == 0


def test_a_backstop_short_of_its_default_fund_contribution_takes_no_lots() -> None:
    state = new_state(stress_days=[], backstops=[{"member": "0x" + C.hex(), "sub_account": 0}])
    mark = state.mark_prices[BTC]
    give(state, A, 900_000_000, lots=100)
    give(state, D, 10**11, lots=-100)
    give(state, C, 10**11)
    state.members[C].default_fund_required = 1  # posted 0: reduce-only
    state.mark_prices[BTC] = mark * 9 // 10
    ctx = BlockContext(state.height + 1, state.time_ms + 1000, state.chain_id)
    process_mark_to_market(state, ctx)
    events = process_liquidation_step(state, ctx)
    takers = {e.get("counterparty") for e in events if e.kind == "liquidated"}
    assert takers == {INSURANCE[0]}
    assert get_quantities(state.members[C].sub_accounts[0]) == {}
    state.members[C].default_fund = 1  # topped up: the backstop takes the next lots
    give(state, B, 300_000_000, lots=100)  # at the new mark: IM 810,000,000, MM 405,000,000
    events = process_liquidation_step(state, ctx)
    assert {e.get("counterparty") for e in events if e.kind == "liquidated"} == {C}
