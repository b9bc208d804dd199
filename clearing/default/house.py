"""The clearing house's own account: the insurance fund and what defaults leave it.

The house is the sub-account ``HOUSE = (INSURANCE_MEMBER, 0)`` together with
``state.insurance_fund``: fees and liquidation fees flow in, the waterfall draws on
it, and it holds the lots no backstop took and the collateral seized from
defaulters until they are sold. Its equity is what the clearing house has of its
own. When a default costs more than every layer of the waterfall holds, that
equity goes negative: the shortfall is the *uncovered deficit*, and while it is
above zero no withdrawal leaves the network (a dYdX v4-style halt), so members
who reach the exit first cannot leave the loss to those who stay. Later fees,
and deposits to the house account, pay it down.

Seized collateral becomes settlement cash within a bound (``process_house_collateral``):
every block, settlement tokens count at par and other tokens are sold at their
haircut value to the backstops and registered bidders as far as their cash goes;
at every height that is a multiple of ``get_house_bound`` (the default auctions'
bound, ``rounds * window_blocks``) what is left is closed out: sold at the
haircut value to every sub-account with cash, pro rata (the clearing house pays
what it owes in kind, as a CCP settles gains with a defaulter's assets when cash
is short), and what no cash in the ledger pays for (a token worth 0 included) is
given to the sub-accounts pro rata to their equity. The house's equity loses
what it gave away, so if that was value it counted on, the shortfall is an
uncovered deficit like any other. Collateral that reaches the house at height
``h`` has left it by the end of the first block whose height is a multiple of
the bound, at most ``h + bound - 1``; the only exception is a ledger with no
account but the house's.
"""

from __future__ import annotations

from clearing.collateral import decrease_collateral
from clearing.context import BlockContext
from clearing.default.collateral_sale import (
    allocate_collateral,
    get_collateral_buyers,
    sell_collateral,
)
from clearing.errors import WithdrawalsHalted
from clearing.events import Event, make_event
from clearing.risk.engine import get_risk_setup
from clearing.risk.params import INSURANCE_MEMBER, AuctionParams
from clearing.state import (
    ClearingState,
    get_collateral_value,
    get_value_per_quantum,
    is_settlement_token,
)

HOUSE = (INSURANCE_MEMBER, 0)


def get_house_equity(state: ClearingState) -> int:
    """Insurance fund + the house sub-account's cash and collateral (positions are
    settled to the mark every block, so they add nothing)."""
    record = state.members.get(INSURANCE_MEMBER)
    account = None if record is None else record.sub_accounts.get(0)
    if account is None:
        return state.insurance_fund
    return state.insurance_fund + account.cash + get_collateral_value(state, account)


def get_insurance_fund_cash(state: ClearingState) -> int:
    """The insurance fund plus the house sub-account's cash."""
    record = state.members.get(INSURANCE_MEMBER)
    account = None if record is None else record.sub_accounts.get(0)
    return state.insurance_fund + (0 if account is None else account.cash)


def get_insurance_fund_backing(state: ClearingState) -> tuple[dict[int, int], int]:
    """Where the insurance fund's cash is: (per chain, the settlement tokens of that chain's
    vault that back it; the rest).

    Cash is one pool: the settlement tokens each vault holds for cash
    (``settlement_reserves``) back every positive cash balance, the funds and the fee
    pool together, and what members with negative cash owe makes up the difference (it
    is backed by their other collateral until that is sold). The fund's share of each
    chain's reserve is its share of those claims, rounded down; the rest is its share of
    what members owe, plus the rounding. Genesis starts the fund at 0, so every unit of
    it was paid in and these parts add up to it.
    """
    fund = get_insurance_fund_cash(state)
    claims = fund + state.fee_pool
    for address, member in state.members.items():
        claims += member.default_fund
        if address != INSURANCE_MEMBER:
            claims += sum(max(a.cash, 0) for a in member.sub_accounts.values())
    if fund <= 0:
        return {}, fund
    per_chain = {c: fund * r // claims for c, r in sorted(state.settlement_reserves.items())}
    return per_chain, fund - sum(per_chain.values())


def get_uncovered_deficit(state: ClearingState) -> int:
    """What defaults cost beyond every layer of the waterfall (0 when the house is whole)."""
    return max(0, -get_house_equity(state))


def check_withdrawals_open(state: ClearingState) -> None:
    """Raise ``WithdrawalsHalted`` while a deficit is uncovered."""
    deficit = get_uncovered_deficit(state)
    if deficit:
        raise WithdrawalsHalted(deficit)


def get_house_bound(state: ClearingState) -> int:
    """Blocks within which the house is rid of what a default leaves it: lots and collateral."""
    setup = get_risk_setup(state)
    params = AuctionParams() if setup is None else setup.params.auction
    return params.rounds * params.window_blocks


def is_house_close_out(state: ClearingState, ctx: BlockContext) -> bool:
    return ctx.height % get_house_bound(state) == 0


def process_house_collateral(state: ClearingState, ctx: BlockContext) -> list[Event]:
    """Turn what the house holds as collateral into the insurance fund's cash: settlement
    tokens at par at once (they now back cash: the chain's reserve grows), any other
    token sold at its haircut value to the backstops and registered bidders, as far as
    their cash goes, and what is left allocated at a close-out height."""
    record = state.members.get(INSURANCE_MEMBER)
    account = None if record is None else record.sub_accounts.get(0)
    if account is None or not account.collateral:
        return []
    buyers = get_collateral_buyers(state)
    events: list[Event] = []
    for key in sorted(account.collateral):
        quanta = account.collateral[key]
        if is_settlement_token(state, key):
            state.dirty.add(INSURANCE_MEMBER)
            decrease_collateral(account, key, quanta)
            state.insurance_fund += quanta
            reserves = state.settlement_reserves
            reserves[key[0]] = reserves.get(key[0], 0) + quanta
            events.append(
                make_event("house_settlement_tokens", chain_id=key[0], token=key[1], quanta=quanta)
            )
        elif (value := get_value_per_quantum(state, key)) > 0:
            events.extend(sell_collateral(state, HOUSE, key, quanta, value, buyers, HOUSE))
    if is_house_close_out(state, ctx):
        for key in sorted(account.collateral):
            quanta = account.collateral[key]
            value = get_value_per_quantum(state, key)
            events.extend(allocate_collateral(state, HOUSE, key, quanta, value, HOUSE))
    return events
