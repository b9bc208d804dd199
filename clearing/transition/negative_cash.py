"""Negative cash is paid: a member's losses become the winners' withdrawable cash.

Variation margin, funding and fees leave a losing sub-account with negative
cash, backed by its collateral. At the end of every block (after liquidations,
so only solvent accounts remain), ``process_negative_cash`` pays it:

1. with the sub-account's settlement tokens, at par, at once: the tokens stay in
   their vault but now back cash, so that chain's settlement reserve grows by
   what they cover (``state.settlement_reserves``);
2. if cash is still below ``-settlement_asset.conversion_threshold``, by selling
   the other collateral, token by token in key order, at its haircut value to
   the backstops, the registered bidders and then the house
   (clearing/default/collateral_sale.py), just enough quanta (rounded up) to
   bring cash back to zero.

A member may also repay by depositing the settlement token (step 1 then applies
to the deposit). Every step is an event the member reads with its account.
"""

from __future__ import annotations

from clearing.collateral import decrease_collateral
from clearing.context import BlockContext
from clearing.default.collateral_sale import AccountKey, get_collateral_buyers, sell_collateral
from clearing.default.house import HOUSE
from clearing.events import Event, make_event
from clearing.state import (
    ClearingState,
    SubAccount,
    get_value_per_quantum,
    is_settlement_token,
)
from clearing.units import div_ceil


def get_accounts_in_debt(state: ClearingState) -> list[AccountKey]:
    """Sub-accounts (the house aside) with negative cash and some collateral, sorted."""
    return sorted(
        (address, sub)
        for address, member in state.members.items()
        for sub, account in member.sub_accounts.items()
        if account.cash < 0 and account.collateral and (address, sub) != HOUSE
    )


def process_negative_cash(state: ClearingState, ctx: BlockContext) -> list[Event]:
    events: list[Event] = []
    threshold = state.genesis.settlement_asset.conversion_threshold
    buyers = [*get_collateral_buyers(state), HOUSE]
    for key in get_accounts_in_debt(state):
        account = state.members[key[0]].sub_accounts[key[1]]
        events.extend(settle_with_settlement_tokens(state, key, account))
        if account.cash < -threshold:
            events.extend(convert_collateral(state, key, account, buyers))
    return events


def settle_with_settlement_tokens(
    state: ClearingState, key: AccountKey, account: SubAccount
) -> list[Event]:
    events = []
    for token_key in sorted(account.collateral):
        if account.cash >= 0:
            break
        if not is_settlement_token(state, token_key):
            continue
        used = min(account.collateral[token_key], -account.cash)
        state.dirty.add(key[0])
        decrease_collateral(account, token_key, used)
        account.cash += used
        chain_id = token_key[0]
        state.settlement_reserves[chain_id] = state.settlement_reserves.get(chain_id, 0) + used
        events.append(
            make_event(
                "negative_cash_settled",
                member=key[0],
                sub_account=key[1],
                chain_id=chain_id,
                token=token_key[1],
                quanta=used,
            )
        )
    return events


def convert_collateral(
    state: ClearingState, key: AccountKey, account: SubAccount, buyers: list[AccountKey]
) -> list[Event]:
    events: list[Event] = []
    for token_key in sorted(account.collateral):
        if account.cash >= 0:
            break
        value = get_value_per_quantum(state, token_key)
        if is_settlement_token(state, token_key) or value <= 0:
            continue
        quanta = min(account.collateral[token_key], div_ceil(-account.cash, value))
        events.extend(sell_collateral(state, key, token_key, quanta, value, buyers, HOUSE))
    return events
