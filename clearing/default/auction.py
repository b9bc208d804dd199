"""Default auctions: the house's lots go back to the members, and the house ends flat.

Lots the backstops did not take land in the house account (``HOUSE``). At the
end of every block, after liquidations, ``process_house_book``:

1. closes every auction whose window has ended: its bids are ranked (the highest
   premium the bidder pays the house first; ties to the earlier bid, then the
   lower account) and the first that binds wins (``check_bid_binds``): a bid
   held its margin while open (bid_hold.py), so only marks can have moved its
   sub-account since; it is bound unless taking the lots would leave it below
   maintenance margin or grow a position it may now only reduce (default-fund
   shortfall, margin call), in which case it is void (event ``auction_bid_void``
   with the error) and the next bid is looked at. The lots move to the winner at
   the mark (variation margin is settled, so at the mark nothing else changes
   hands) and the premium from its cash to the insurance fund (a negative premium
   is the house paying a bidder to take the risk). Event ``auction_settled``.
2. an auction nobody won is split into ``split`` parts (every position's lots
   divided as evenly as whole lots allow) and each part is auctioned again, one
   round more; after ``rounds`` rounds what is left is deleveraged at the mark
   against the opposite positions, the most profitable and levered first
   (``adl.py``'s ranking), any opposite position if those run out. Event
   ``auction_deleveraged``.
3. opens an auction for the house's lots not yet under one (event
   ``auction_opened``: its id, round and closing height; the lots themselves
   are shown only to registered bidders, see node/api).

Bound: lots that reach the house at height ``h`` are sold or deleveraged by
height ``h + rounds * window_blocks``; the house is then flat (and its
collateral is closed out within the same bound, house.py). Nothing here
creates value: lots move at the mark, and cash moves from one balance to
another.
"""

from __future__ import annotations

from clearing.clients import check_cleared
from clearing.context import BlockContext
from clearing.default.adl import AdlCandidate, compute_adl_ranking
from clearing.default.default_fund import check_reduce_only, is_guarantor_reduce_only
from clearing.default.house import HOUSE
from clearing.default.margin_call import check_margin_call
from clearing.default.steps import move_lots_at_mark
from clearing.errors import BidBelowMaintenance, InvalidTransaction
from clearing.events import Event, make_event
from clearing.risk.engine import get_quantities, get_risk_arrays, get_risk_setup
from clearing.risk.margin import (
    compute_initial_margin,
    compute_scenario_losses,
    is_maintenance_met,
)
from clearing.risk.params import AuctionParams
from clearing.state import (
    Auction,
    Bid,
    ClearingState,
    Lots,
    SubAccount,
    get_account_equity,
    get_collateral_value,
    get_sub_account_for_write,
)
from clearing.units import div_ceil

AccountKey = tuple[bytes, int]


def get_auction_params(state: ClearingState) -> AuctionParams | None:
    setup = get_risk_setup(state)
    return None if setup is None else setup.params.auction


def get_house_account(state: ClearingState) -> SubAccount | None:
    record = state.members.get(HOUSE[0])
    return None if record is None else record.sub_accounts.get(HOUSE[1])


def get_free_house_lots(state: ClearingState) -> Lots:
    """The house's lots that no open auction offers: per instrument, what it holds beyond
    what the auctions on its side offer. An auction on the other side (its lots came
    back the other way in a later default) offers nothing the house holds: it lapses."""
    account = get_house_account(state)
    if account is None:
        return ()
    held = get_quantities(account)
    offered: dict[str, int] = {}
    for auction in state.auctions.values():
        for iid, lots in auction.lots:
            if lots * held.get(iid, 0) > 0:
                offered[iid] = offered.get(iid, 0) + abs(lots)
    free = []
    for iid in sorted(held):
        left = abs(held[iid]) - offered.get(iid, 0)
        if left > 0:
            free.append((iid, left if held[iid] > 0 else -left))
    return tuple(free)


def split_lots(lots: Lots, parts: int) -> list[Lots]:
    """``parts`` portfolios whose lots add up to ``lots`` exactly (empty ones dropped)."""
    out: list[list[tuple[str, int]]] = [[] for _ in range(parts)]
    for iid, quantity in lots:
        sign = 1 if quantity > 0 else -1
        base, extra = divmod(abs(quantity), parts)
        for n in range(parts):
            share = base + (1 if n < extra else 0)
            if share:
                out[n].append((iid, sign * share))
    return [tuple(part) for part in out if part]


def get_bid_order(auction: Auction) -> list[Bid]:
    return sorted(auction.bids, key=lambda b: (-b.premium, b.height, b.sequence, b.member))


def get_lots_available(state: ClearingState, lots: Lots) -> Lots:
    """The auction's lots the house still holds (an instrument may have expired since)."""
    account = get_house_account(state)
    held = {} if account is None else get_quantities(account)
    out = []
    for iid, quantity in lots:
        have = held.get(iid, 0)
        if have * quantity > 0:
            sign = 1 if quantity > 0 else -1
            out.append((iid, sign * min(abs(quantity), abs(have))))
    return tuple(out)


def check_bid_restrictions(state: ClearingState, bid: Bid, lots: Lots) -> None:
    """What a trade is checked for besides margin: a member nobody clears for
    (``NotCleared``), a member (or the clearing member of a client) short of its
    default-fund contribution (``ReduceOnly``) or a sub-account under a margin call
    (``MarginCallReduceOnly``) may only take lots that shrink its positions."""
    check_cleared(state, bid.member)
    record = state.members[bid.member]
    account = record.sub_accounts.get(bid.sub_account)
    before = {} if account is None else get_quantities(account)
    after = get_quantities_with(before, lots)
    if is_guarantor_reduce_only(state, record):
        check_reduce_only(bid.member, before, after)
    if account is not None and account.margin_call is not None:
        for iid, _ in lots:
            check_margin_call(bid.member, bid.sub_account, account.margin_call, iid,
                              before.get(iid, 0), after[iid])  # fmt: skip


def get_quantities_with(quantities: dict[str, int], lots: Lots) -> dict[str, int]:
    """``quantities`` after taking the house's side of ``lots``."""
    after = dict(quantities)
    for iid, quantity in lots:
        after[iid] = after.get(iid, 0) + quantity
    return after


def compute_initial_margin_with(
    state: ClearingState, quantities: dict[str, int], lots: Lots
) -> int:
    """Initial margin of ``quantities`` with the house's side of ``lots`` taken (0 when
    margining is off)."""
    setup = get_risk_setup(state)
    if setup is None:
        return 0
    after = get_quantities_with(quantities, lots)
    return compute_initial_margin(compute_scenario_losses(after, get_risk_arrays(state, setup)))


def check_bid_binds(state: ClearingState, auction: Auction, bid: Bid, lots: Lots) -> None:
    """At the close a bid binds unless the checks of ``check_bid_restrictions`` refuse it
    now, or taking the lots and paying the premium would leave its sub-account below
    maintenance margin (``BidBelowMaintenance``): a winner that would be liquidated at
    once would only hand the lots back. Below initial margin it is bound all the same,
    and margin calls follow as for any account."""
    check_bid_restrictions(state, bid, lots)
    setup = get_risk_setup(state)
    assert setup is not None
    account = state.members[bid.member].sub_accounts[bid.sub_account]
    im = compute_initial_margin_with(state, get_quantities(account), lots)
    equity = account.cash - bid.premium + get_collateral_value(state, account)
    k_num, k_den = setup.params.k_num, setup.params.k_den
    if not is_maintenance_met(equity, im, k_num, k_den):
        maintenance = div_ceil(im * k_num, k_den)
        raise BidBelowMaintenance(bid.member, bid.sub_account, auction.id, bid.premium, equity,
                                  maintenance)  # fmt: skip


def transfer_lots(state: ClearingState, lots: Lots, to: AccountKey) -> None:
    for iid, quantity in lots:
        move_lots_at_mark(state, get_sub_account_for_write(state, *HOUSE), iid, -quantity)
        move_lots_at_mark(state, get_sub_account_for_write(state, *to), iid, quantity)


def process_house_book(state: ClearingState, ctx: BlockContext) -> list[Event]:
    params = get_auction_params(state)
    if params is None:
        return []
    events: list[Event] = []
    for auction_id in sorted(state.auctions):
        auction = state.auctions[auction_id]
        if auction.closes_height <= ctx.height:
            del state.auctions[auction_id]
            events.extend(close_auction(state, ctx, auction, params))
    free = get_free_house_lots(state)
    if free:
        events.append(open_auction(state, ctx, free, 1, params))
    return events


def open_auction(
    state: ClearingState, ctx: BlockContext, lots: Lots, round_: int, params: AuctionParams
) -> Event:
    auction_id = state.next_auction_id
    state.next_auction_id += 1
    closes = ctx.height + params.window_blocks
    state.auctions[auction_id] = Auction(auction_id, lots, round_, ctx.height, closes)
    return make_event("auction_opened", auction=auction_id, round=round_, closes_height=closes)


def close_auction(
    state: ClearingState, ctx: BlockContext, auction: Auction, params: AuctionParams
) -> list[Event]:
    lots = get_lots_available(state, auction.lots)
    if not lots:
        return [make_event("auction_lapsed", auction=auction.id)]
    void: list[Event] = []
    for bid in get_bid_order(auction):
        try:
            check_bid_binds(state, auction, bid, lots)
        except InvalidTransaction as error:
            void.append(make_event("auction_bid_void", auction=auction.id, member=bid.member,
                                   sub_account=bid.sub_account, premium=bid.premium,
                                   code=error.code, detail=str(error)))  # fmt: skip
            continue
        return [*void, settle_auction(state, auction, lots, bid)]
    if auction.round < params.rounds:
        return [
            *void,
            *(open_auction(state, ctx, part, auction.round + 1, params)
              for part in split_lots(lots, params.split)),
        ]  # fmt: skip
    return [*void, *deleverage_lots(state, auction, lots)]


def settle_auction(state: ClearingState, auction: Auction, lots: Lots, bid: Bid) -> Event:
    winner = (bid.member, bid.sub_account)
    transfer_lots(state, lots, winner)
    get_sub_account_for_write(state, *winner).cash -= bid.premium
    state.insurance_fund += bid.premium
    return make_event(
        "auction_settled",
        auction=auction.id,
        member=bid.member,
        sub_account=bid.sub_account,
        premium=bid.premium,
        lots=sum(abs(q) for _, q in lots),
    )


def get_deleverage_order(state: ClearingState, iid: str, house_lots: int) -> list[AccountKey]:
    """Opposite positions: the profitable ones ranked as ADL ranks them, then the rest."""
    mark = state.mark_prices[iid]
    candidates = []
    for address in sorted(state.members):
        for sub, account in sorted(state.members[address].sub_accounts.items()):
            position = account.positions.get(iid)
            if (address, sub) == HOUSE or position is None or position.quantity * house_lots >= 0:
                continue
            equity = get_account_equity(state, account)
            pnl = position.quantity * (mark - position.average_entry_price)
            notional = abs(position.quantity) * mark
            candidates.append(
                AdlCandidate((address, sub), position.quantity, pnl, equity, notional)
            )
    ranked = [c.account for c in compute_adl_ranking(candidates, house_lots)]
    return ranked + [c.account for c in candidates if c.account not in ranked]


def deleverage_lots(state: ClearingState, auction: Auction, lots: Lots) -> list[Event]:
    """Close the house's unsold lots against opposite positions at the mark."""
    events = []
    for iid, quantity in lots:
        left = quantity
        for key in get_deleverage_order(state, iid, quantity):
            if not left:
                break
            held = state.members[key[0]].sub_accounts[key[1]].positions[iid].quantity
            take = (1 if left > 0 else -1) * min(abs(left), abs(held))
            transfer_lots(state, ((iid, take),), key)
            left -= take
            events.append(
                make_event("auction_deleveraged", auction=auction.id, member=key[0],
                           sub_account=key[1], instrument=iid, quantity=take)
            )  # fmt: skip
    return events
