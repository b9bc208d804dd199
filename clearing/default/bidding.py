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
from typing import Any, ClassVar

from eth_account.messages import SignableMessage

from clearing.codec import expect_bool, expect_bytes, expect_int, expect_list
from clearing.collateral import MAX_SUB_ACCOUNT
from clearing.context import BlockContext
from clearing.default.auction import Bid, check_bid_restrictions, get_lots_available
from clearing.default.bid_hold import check_bid_covered
from clearing.eip712 import compute_signable
from clearing.errors import (
    AuctionClosed,
    NotABidder,
    UnknownAuction,
)
from clearing.events import Event, make_event
from clearing.member_authorisation import (
    check_member_request,
    check_member_signed,
    check_nonce_unused,
    spend_nonce,
)
from clearing.state import ClearingState, get_member, get_member_for_write, get_sub_account

MAX_PREMIUM = 2**63 - 1

REGISTER_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "registered", "type": "bool"},
    {"name": "nonce", "type": "uint64"},
]
BID_FIELDS = [
    {"name": "member", "type": "address"},
    {"name": "subAccount", "type": "uint32"},
    {"name": "auction", "type": "uint64"},
    {"name": "premium", "type": "int256"},
    {"name": "nonce", "type": "uint64"},
]


@dataclass(frozen=True, slots=True)
class RegisterBidder:
    KIND: ClassVar[int] = 21
    member: bytes
    registered: bool  # False leaves
    nonce: int
    signature: bytes

    def signable(self, chain_id: int) -> SignableMessage:
        message = {
            "member": "0x" + self.member.hex(),
            "registered": self.registered,
            "nonce": self.nonce,
        }
        return compute_signable(chain_id, "RegisterBidder", REGISTER_FIELDS, message)

    def to_fields(self) -> list[object]:
        return [self.member, self.registered, self.nonce, self.signature]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> RegisterBidder:
        member, registered, nonce, signature = expect_list(fields, "RegisterBidder", 4)
        return cls(
            expect_bytes(member, "member", 20),
            expect_bool(registered, "registered"),
            expect_int(nonce, "nonce"),
            expect_bytes(signature, "signature", 65),
        )


@dataclass(frozen=True, slots=True)
class AuctionBid:
    KIND: ClassVar[int] = 22
    member: bytes
    sub_account: int
    auction: int
    premium: int  # paid to the house (negative: asked from it)
    nonce: int
    signature: bytes

    def signable(self, chain_id: int) -> SignableMessage:
        message = {
            "member": "0x" + self.member.hex(),
            "subAccount": self.sub_account,
            "auction": self.auction,
            "premium": self.premium,
            "nonce": self.nonce,
        }
        return compute_signable(chain_id, "AuctionBid", BID_FIELDS, message)

    def to_fields(self) -> list[object]:
        return [self.member, self.sub_account, self.auction, self.premium, self.nonce,
                self.signature]  # fmt: skip

    @classmethod
    def from_fields(cls, fields: list[Any]) -> AuctionBid:
        f = expect_list(fields, "AuctionBid", 6)
        return cls(
            expect_bytes(f[0], "member", 20),
            expect_int(f[1], "sub_account", 0, MAX_SUB_ACCOUNT),
            expect_int(f[2], "auction", 1),
            expect_int(f[3], "premium", -MAX_PREMIUM, MAX_PREMIUM),
            expect_int(f[4], "nonce"),
            expect_bytes(f[5], "signature", 65),
        )


def process_register_bidder(
    state: ClearingState, ctx: BlockContext, tx: RegisterBidder
) -> list[Event]:
    check_member_request(state, ctx.chain_id, tx)
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
    check_nonce_unused(state, tx.member, tx.nonce)
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
