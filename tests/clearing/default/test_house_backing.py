"""The insurance fund is backed by settlement tokens in the vaults, shown per chain
(clearing/default/house.py, get_insurance_fund_backing): seeded by a deposit to the
clearing house's account, grown by fees, its parts always add up to it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.house import HOUSE, get_insurance_fund_backing, get_insurance_fund_cash
from clearing.state import ClearingState, get_sub_account_for_write
from devnet.sandbox import Sandbox
from tests.clearing.support import ALICE, BOB, USDC, USDC_B, WETH, genesis_doc


def get_debts(state: ClearingState) -> int:
    return sum(max(-a.cash, 0) for address, m in state.members.items() if address != HOUSE[0]
               for a in m.sub_accounts.values())  # fmt: skip


def test_a_deposit_to_the_house_is_the_fund_in_that_chains_vault() -> None:
    box = Sandbox.from_genesis_doc(genesis_doc())
    assert box.state.insurance_fund == 0 and get_insurance_fund_backing(box.state) == ({}, 0)
    box.apply([box.credit(HOUSE[0], USDC_B, 7_000)])
    assert get_insurance_fund_backing(box.state) == ({USDC_B[0]: 7_000}, 0)


@settings(max_examples=15, deadline=None)
@given(
    seed_a=st.integers(0, 10**9),
    seed_b=st.integers(0, 10**9),
    alice=st.integers(1, 10**9),
    bob_weth=st.integers(0, 10**6),
    loss=st.integers(0, 2 * 10**9),
)
def test_the_funds_parts_add_up_and_no_chain_backs_more_than_its_vault_holds(
    seed_a: int, seed_b: int, alice: int, bob_weth: int, loss: int
) -> None:
    box = Sandbox.from_genesis_doc(genesis_doc())
    credits = [
        box.credit(HOUSE[0], USDC, seed_a),
        box.credit(HOUSE[0], USDC_B, seed_b),
        box.credit(ALICE.address, USDC_B, alice),
        box.credit(BOB.address, WETH, bob_weth),
    ]
    box.apply(credits)  # fmt: skip
    # Bob loses to Alice: his negative cash is backed by WETH (sold beyond the threshold)
    get_sub_account_for_write(box.state, BOB.address, 0).cash -= loss
    get_sub_account_for_write(box.state, ALICE.address, 0).cash += loss
    box.apply([])
    state = box.state
    fund = get_insurance_fund_cash(state)
    in_vaults, owed = get_insurance_fund_backing(state)
    if fund <= 0:  # Bob's loss beyond all he had: an uncovered deficit, nothing to back
        assert in_vaults == {} and owed == fund
        return
    assert sum(in_vaults.values()) + owed == fund
    for chain, amount in in_vaults.items():
        assert 0 <= amount <= state.settlement_reserves[chain]
    # The rest is the fund's share of what members owe, plus at most a unit per chain.
    debts = get_debts(state)
    claims = sum(state.settlement_reserves.values()) + debts
    assert owed * claims >= fund * debts
    assert (owed - len(in_vaults)) * claims <= fund * debts
