"""Member-signed transactions of default auctions: registering as a bidder, and bids.

A member registers (or leaves) with ``RegisterBidder``; only a registered bidder
may bid, and only registered bidders are shown an auction's lots (node/api).
``AuctionBid`` offers a premium for every lot of one open auction, taken by one
of the bidder's sub-accounts at the mark. A bid is binding: it cannot be
withdrawn, and it is checked like a trade when it arrives: reduce-only while the
member is short of its default-fund contribution or the sub-account is under a
margin call, and margined as if every lot of its open bids were already its own
(bid_hold.py, which also keeps that margin held until the close). The close
checks it again (auction.py ``check_bid_binds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from clearing.context import BlockContext
from clearing.default.auction import check_bid_restrictions, get_lots_available
from clearing.default.bid_hold import check_bid_covered
from clearing.errors import AuctionClosed, NotABidder, UnknownAuction
from clearing.events import Event, make_event
from clearing.member_authorisation import (
    check_member_request,
    check_member_signed,
    check_request_unspent,
    declare_member_request,
    spend_nonce,
)
from clearing.request_schema import (
    Bool,
    ExpiresMs,
    Integer,
    IssuedAtMs,
    Nonce,
    Signature,
    SignedAddress,
    SignedRequest,
    SubAccountNumber,
    member_request,
)
from clearing.state import Bid, ClearingState, get_member, get_member_for_write, get_sub_account

MAX_PREMIUM = 2**63 - 1


@member_request
@dataclass(frozen=True, slots=True)
class RegisterBidder(SignedRequest):
    KIND: ClassVar[int] = 21
    member: SignedAddress
    registered: Bool  # False leaves
    issued_at_ms: IssuedAtMs
    expires_ms: ExpiresMs
    nonce: Nonce
    signature: Signature


@member_request
@dataclass(frozen=True, slots=True)
class AuctionBid(SignedRequest):
    KIND: ClassVar[int] = 22
    member: SignedAddress
    sub_account: SubAccountNumber
    auction: Annotated[int, Integer("uint64", 1)]
    # paid to the house (negative: asked from it)
    premium: Annotated[int, Integer("int256", -MAX_PREMIUM, MAX_PREMIUM)]
    issued_at_ms: IssuedAtMs
    expires_ms: ExpiresMs
    nonce: Nonce
    signature: Signature


def process_register_bidder(
    state: ClearingState, ctx: BlockContext, tx: RegisterBidder
) -> list[Event]:
    check_member_request(state, ctx, tx)
    spend_nonce(state, tx)
    record = get_member_for_write(state, tx.member)
    record.bidder = tx.registered
    return [make_event("bidder_registered", member=tx.member, registered=int(tx.registered))]


def process_auction_bid(state: ClearingState, ctx: BlockContext, tx: AuctionBid) -> list[Event]:
    auction = state.auctions.get(tx.auction)
    if auction is None:
        raise UnknownAuction(tx.auction)
    if ctx.height >= auction.closes_height:
        raise AuctionClosed(tx.auction, auction.closes_height, ctx.height)
    member = get_member(state, tx.member)
    if not member.bidder:
        raise NotABidder(tx.member)
    check_request_unspent(state, ctx.time_ms, tx)
    account = get_sub_account(state, tx.member, tx.sub_account)
    bid = Bid(tx.member, tx.sub_account, tx.premium, ctx.height, len(auction.bids))
    check_bid_restrictions(state, bid, get_lots_available(state, auction.lots))
    check_bid_covered(state, tx.member, tx.sub_account, account, tx.auction, tx.premium)
    check_member_signed(ctx.chain_id, tx)
    spend_nonce(state, tx)
    auction.bids.append(bid)
    return [
        make_event("auction_bid", auction=tx.auction, member=tx.member,
                   sub_account=tx.sub_account, premium=tx.premium)
    ]  # fmt: skip


REGISTER_BIDDER = declare_member_request(RegisterBidder, process_register_bidder)
AUCTION_BID = declare_member_request(AuctionBid, process_auction_bid)
