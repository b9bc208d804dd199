"""What an open bid holds: the margin of the lots it may still win.

A bid is binding, so until its auction closes the bidder's sub-account is margined as
if it had already won every auction it bid on: its *bid requirement* is the initial
margin of its positions together with the lots those auctions offer (as the house
still holds them), plus the highest premium it offered in each. A bid is refused
when equity does not cover it (``BidNotCovered``); while it is open, a withdrawal or
transfer out must leave equity at or above it, and a trade may not raise it above
equity (``OpenBidUncovered``, naming the auctions). Only marks can still move the
bidder below it; auction.py says what the close does then.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.default.auction import compute_initial_margin_with, get_lots_available
from clearing.errors import BidNotCovered, OpenBidUncovered
from clearing.risk.engine import get_quantities
from clearing.state import ClearingState, SubAccount, get_account_equity, get_collateral_value


@dataclass(frozen=True, slots=True)
class BidHold:
    auctions: tuple[int, ...]  # the open auctions the sub-account has bid on, sorted
    lots: dict[str, int]  # every lot they offer, added up
    premium: int  # the highest premium offered in each, added up


def get_bid_hold(
    state: ClearingState, member: bytes, sub_account: int, new_bid: tuple[int, int] | None = None
) -> BidHold | None:
    """The sub-account's open bids, with ``new_bid`` ``(auction, premium)`` if given;
    None when it has none."""
    premiums: dict[int, int] = {}
    for auction_id in sorted(state.auctions):
        offered = [
            b.premium
            for b in state.auctions[auction_id].bids
            if b.member == member and b.sub_account == sub_account
        ]
        if new_bid is not None and new_bid[0] == auction_id:
            offered.append(new_bid[1])
        if offered:
            premiums[auction_id] = max(offered)
    if not premiums:
        return None
    lots: dict[str, int] = {}
    for auction_id in premiums:
        for iid, quantity in get_lots_available(state, state.auctions[auction_id].lots):
            lots[iid] = lots.get(iid, 0) + quantity
    return BidHold(tuple(premiums), lots, sum(premiums.values()))


def get_bidders(state: ClearingState) -> frozenset[tuple[bytes, int]]:
    """The sub-accounts with a bid in an open auction: the only ones a bid holds."""
    return frozenset(
        (bid.member, bid.sub_account) for auction in state.auctions.values() for bid in auction.bids
    )


def compute_bid_requirement(state: ClearingState, quantities: dict[str, int], hold: BidHold) -> int:
    """Initial margin of ``quantities`` with the held lots, plus the held premiums."""
    lots = tuple(sorted(hold.lots.items()))
    return compute_initial_margin_with(state, quantities, lots) + hold.premium


def get_bid_requirement(state: ClearingState, member: bytes, sub_account: int) -> int:
    """What the sub-account's open bids require it to keep (0 without any)."""
    hold = get_bid_hold(state, member, sub_account)
    if hold is None:
        return 0
    account = state.members[member].sub_accounts[sub_account]
    return compute_bid_requirement(state, get_quantities(account), hold)


def check_bid_covered(
    state: ClearingState,
    member: bytes,
    sub_account: int,
    account: SubAccount,
    auction: int,
    premium: int,
) -> None:
    """A new bid: equity covers the requirement of every open bid of the sub-account and it."""
    hold = get_bid_hold(state, member, sub_account, (auction, premium))
    assert hold is not None
    requirement = compute_bid_requirement(state, get_quantities(account), hold)
    equity = get_account_equity(state, account)
    if equity < requirement:
        raise BidNotCovered(member, sub_account, auction, premium, equity, requirement)


def check_bids_held_after_debit(
    state: ClearingState, member: bytes, sub_account: int, equity_after: int
) -> None:
    """A withdrawal or transfer out leaves the open bids covered."""
    hold = get_bid_hold(state, member, sub_account)
    if hold is None:
        return
    account = state.members[member].sub_accounts[sub_account]
    requirement = compute_bid_requirement(state, get_quantities(account), hold)
    if equity_after < requirement:
        raise OpenBidUncovered(member, sub_account, hold.auctions, equity_after, requirement)


def check_bids_held_after_trade(
    state: ClearingState,
    member: bytes,
    sub_account: int,
    account: SubAccount | None,
    instrument_id: str,
    quantity_after: int,
    cash_after: int,
) -> None:
    """A trade may not raise the bid requirement above equity (as the pre-trade rule
    treats initial margin: a trade that lowers it is always accepted)."""
    hold = None if account is None else get_bid_hold(state, member, sub_account)
    if hold is None or account is None:
        return
    before = get_quantities(account)
    after = {**before, instrument_id: quantity_after}
    requirement_before = compute_bid_requirement(state, before, hold)
    requirement = compute_bid_requirement(state, after, hold)
    equity_after = cash_after + get_collateral_value(state, account)
    if requirement > requirement_before and equity_after < requirement:
        raise OpenBidUncovered(member, sub_account, hold.auctions, equity_after, requirement)
