"""Selling an account's collateral for settlement cash, at its haircut value.

Used where collateral must become money: a member's negative cash beyond the
conversion threshold (clearing/transition/negative_cash.py) and the collateral the house
seized from defaulters (clearing/default/house.py). The buyers are the
registered backstops in their genesis order, then the members registered as
default-auction bidders (their sub-account 0, by address), each paying from its
positive cash only (a purchase never leaves a buyer owing); the house is the
buyer of last resort for members' collateral, paying from the insurance fund. At the
haircut value the buyer's equity is unchanged (cash down, collateral up by the
same value) and the seller's equity too: a sale moves value, it never creates
or destroys it.

What no buyer pays for can be allocated (``allocate_collateral``, the house's
close-out): sold at the haircut value to every sub-account with cash, pro rata
to the quanta its cash pays for, and what no cash in the ledger pays for given
pro rata to the sub-accounts' equity. Events ``collateral_allocated``.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.assets import CollateralKey
from clearing.collateral import decrease_collateral, increase_collateral
from clearing.default.waterfall import compute_pro_rata
from clearing.events import Event, make_event
from clearing.risk.engine import get_risk_setup
from clearing.state import (
    ClearingState,
    get_account_equity,
    get_sub_account,
    get_sub_account_for_write,
)

AccountKey = tuple[bytes, int]


@dataclass(frozen=True, slots=True)
class Sale:
    seller: AccountKey
    buyer: AccountKey
    key: CollateralKey
    quanta: int
    amount: int  # settlement units the buyer paid


def get_collateral_buyers(state: ClearingState) -> list[AccountKey]:
    """Backstops in genesis order, then registered bidders' sub-accounts 0 by address."""
    setup = get_risk_setup(state)
    backstops = [] if setup is None else list(setup.params.backstops)
    bidders = [(a, 0) for a in sorted(state.members) if state.members[a].bidder]
    return backstops + [b for b in bidders if b not in backstops]


def get_spendable_cash(state: ClearingState, buyer: AccountKey, house: AccountKey) -> int:
    """Positive cash a buyer may spend; the house spends the insurance fund as well."""
    record = state.members.get(buyer[0])
    account = None if record is None else record.sub_accounts.get(buyer[1])
    cash = 0 if account is None else account.cash
    if buyer == house:
        cash += state.insurance_fund
    return max(cash, 0)


def process_sale(
    state: ClearingState, sale: Sale, house: AccountKey, kind: str = "collateral_sold"
) -> Event:
    """Move ``sale.quanta`` to the buyer and ``sale.amount`` to the seller."""
    seller = get_sub_account_for_write(state, *sale.seller)
    decrease_collateral(seller, sale.key, sale.quanta)
    increase_collateral(get_sub_account_for_write(state, *sale.buyer), sale.key, sale.quanta)
    _move_cash(state, sale.buyer, -sale.amount, house)
    _move_cash(state, sale.seller, sale.amount, house)
    return make_event(
        kind,
        member=sale.seller[0],
        sub_account=sale.seller[1],
        chain_id=sale.key[0],
        token=sale.key[1],
        quanta=sale.quanta,
        amount=sale.amount,
        counterparty=sale.buyer[0],
        counterparty_sub_account=sale.buyer[1],
    )


def _move_cash(state: ClearingState, key: AccountKey, amount: int, house: AccountKey) -> None:
    """The house's cash is the insurance fund (its sub-account cash stays as it is)."""
    if key == house:
        state.insurance_fund += amount
    else:
        get_sub_account_for_write(state, *key).cash += amount


def sell_collateral(
    state: ClearingState,
    seller: AccountKey,
    key: CollateralKey,
    quanta: int,
    value_per_quantum: int,
    buyers: list[AccountKey],
    house: AccountKey,
) -> list[Event]:
    """Sell up to ``quanta`` to ``buyers`` in order, each as much as its cash pays for."""
    events = []
    left = quanta
    for buyer in buyers:
        if left == 0:
            break
        if buyer == seller:
            continue
        affordable = get_spendable_cash(state, buyer, house) // value_per_quantum
        bought = min(left, affordable)
        if bought:
            sale = Sale(seller, buyer, key, bought, bought * value_per_quantum)
            events.append(process_sale(state, sale, house))
            left -= bought
    return events


def get_other_accounts(state: ClearingState, seller: AccountKey) -> list[AccountKey]:
    return sorted(
        (address, sub)
        for address, member in state.members.items()
        for sub in member.sub_accounts
        if (address, sub) != seller
    )


def allocate_collateral(
    state: ClearingState,
    seller: AccountKey,
    key: CollateralKey,
    quanta: int,
    value_per_quantum: int,
    house: AccountKey,
) -> list[Event]:
    """Place all ``quanta`` with the other sub-accounts: sold at ``value_per_quantum`` to
    those with cash, pro rata to the whole quanta each one's cash pays for (largest
    remainder, so no cash goes negative); the rest, which no cash pays for (a token
    worth 0 included), given for nothing, pro rata to positive equity (equal parts
    when no sub-account has any). Nothing is placed when there is no other sub-account."""
    others = get_other_accounts(state, seller)
    if not others:
        return []
    events = []
    left = quanta
    if value_per_quantum > 0:
        affordable = {k: get_spendable_cash(state, k, house) // value_per_quantum for k in others}
        affordable = {k: q for k, q in affordable.items() if q > 0}
        sold = min(left, sum(affordable.values()))
        for buyer, bought in compute_pro_rata(sold, affordable).items():
            if bought:
                sale = Sale(seller, buyer, key, bought, bought * value_per_quantum)
                events.append(process_sale(state, sale, house, "collateral_allocated"))
        left -= sold
    if left:
        equity = {k: max(get_account_equity(state, get_sub_account(state, *k)), 0) for k in others}
        weights = equity if any(equity.values()) else dict.fromkeys(others, 1)
        for taker, given in compute_pro_rata(left, weights).items():
            if given:
                sale = Sale(seller, taker, key, given, 0)
                events.append(process_sale(state, sale, house, "collateral_allocated"))
    return events
