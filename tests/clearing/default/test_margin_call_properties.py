"""Margin-call invariants through process_block, on random books and price paths."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.steps import INSURANCE
from clearing.risk.engine import get_account_initial_margin
from clearing.risk.margin import is_maintenance_met
from clearing.state import (
    ClearingState,
    Position,
    SubAccount,
    get_collateral_value,
    get_sub_account_for_write,
)
from devnet.sandbox import Sandbox
from tests.clearing.risk.sample import genesis_risk_section
from tests.clearing.support import USDC, fund_vaults, genesis_doc

MEMBERS = [bytes([n]) * 20 for n in range(1, 7)]
BTC = "BTC-PERP"
DEFAULT_KINDS = {"liquidated", "collateral_seized", "deleveraged", "liquidation_penalty"}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[int], int]:
    lots = [draw(st.integers(-40, 40)) for _ in MEMBERS[1:]]
    lots.insert(0, -sum(lots))  # the book is flat
    # Around IM (9M per lot at the genesis mark): some start between MM and IM.
    cash = [abs(q) * draw(st.integers(3_000_000, 12_000_000)) for q in lots]
    moves = draw(st.lists(st.sampled_from([0, 0, -400, -200, -100, 100, 200, 400]), max_size=8))
    return list(zip(lots, cash, strict=True)), moves, draw(st.integers(1, 3))


def new_box(rows: list[tuple[int, int]], deadline_blocks: int) -> Sandbox:
    doc = genesis_doc()
    doc["risk"] = genesis_risk_section(
        stress_days=[], margin_call={"deadline_blocks": deadline_blocks}
    )
    box = Sandbox.from_genesis_doc(doc)
    state = box.state
    mark = state.mark_prices[BTC]
    for member, (lots, collateral) in zip(MEMBERS, rows, strict=True):
        account = get_sub_account_for_write(state, member, 0)
        account.collateral[USDC] = collateral
        if lots:
            account.positions[BTC] = Position(lots, mark, mark, 0, 0)
            state.open_interest[BTC] += max(lots, 0)
    fund_vaults(state)
    return box


def equity_of(state: ClearingState, account: SubAccount) -> int:
    return account.cash + get_collateral_value(state, account)


def accounts(state: ClearingState) -> list[tuple[tuple[bytes, int], SubAccount]]:
    return [
        ((address, sub), account)
        for address, member in sorted(state.members.items())
        for sub, account in sorted(member.sub_accounts.items())
        if (address, sub) != INSURANCE
    ]


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_calls_open_only_below_im_and_none_outlives_its_deadline_unliquidated(
    scenario: tuple[list[tuple[int, int]], list[int], int],
) -> None:
    rows, moves, deadline_blocks = scenario
    box = new_box(rows, deadline_blocks)
    state = box.state
    for bps in [0, *moves]:
        price = state.mark_prices[BTC] * (10_000 + bps) // 10_000
        block = box.apply([box.prices({"BTC/0.001": price}, {BTC: price})] if bps else [])
        touched = {e.get("member") for e in block.events if e.kind in DEFAULT_KINDS} | {
            e.get("counterparty") for e in block.events if e.kind in DEFAULT_KINDS
        }
        for event in block.events:
            if event.kind != "margin_call":
                continue
            equity, im = event.get("equity"), event.get("initial_margin")
            assert isinstance(equity, int) and isinstance(im, int)
            assert equity < im and is_maintenance_met(equity, im, 1, 2)
            assert event.get("amount_due") == im - equity
            assert event.get("deadline_height") == block.height + deadline_blocks
            member = event.get("member")
            assert isinstance(member, bytes)
            if member not in touched:  # what the account holds now is what was called
                account = state.members[member].sub_accounts[0]
                assert equity_of(state, account) == equity
                assert get_account_initial_margin(state, account) == im
        for (member, _), account in accounts(state):
            call = account.margin_call
            if call is None:
                continue
            assert call.opened_height < call.deadline_height
            below_im = equity_of(state, account) < get_account_initial_margin(state, account)
            if member not in touched:  # as the margin-call step left it: open means below IM
                assert below_im and state.height < call.deadline_height
            elif state.height >= call.deadline_height:  # overdue and not liquidated: back at IM
                assert not below_im
