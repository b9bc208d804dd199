"""Default auctions of the house's lots (clearing/default/auction.py, bidding.py)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.auction import get_free_house_lots, split_lots
from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.default.house import HOUSE
from clearing.default.steps import move_lots_at_mark
from clearing.eip712 import sign_typed
from clearing.sandbox import MemberKey, Sandbox, derive_member_key
from clearing.state import ClearingState, Position, get_sub_account_for_write
from tests.clearing.support import USDC, assert_rejected, genesis_doc

BTC = "BTC-PERP"
BIDDERS = [derive_member_key(f"bidder-{n}") for n in range(3)]
SHORT = derive_member_key("short")  # the other side of the house's long
POOR = derive_member_key("poor")
WINDOW, ROUNDS, SPLIT = 3, 2, 2


def new_box(house_lots: int = 10, window: int = WINDOW) -> Sandbox:
    """The house holds ``house_lots`` BTC-PERP (a default's leftovers); SHORT the other
    side; three funded members and one poor one."""
    doc = genesis_doc()
    doc["risk"]["auction"] = {"window_blocks": window, "rounds": ROUNDS, "split": SPLIT}
    box = Sandbox.from_genesis_doc(doc)
    funds = [box.credit(m.address, USDC, 10**11) for m in (*BIDDERS, SHORT)]
    box.apply([*funds, box.credit(POOR.address, USDC, 1_000)])
    mark = box.state.mark_prices[BTC]
    for key, lots in ((HOUSE, house_lots), ((SHORT.address, 0), -house_lots)):
        account = get_sub_account_for_write(box.state, *key)
        account.positions[BTC] = Position(lots, mark, mark, 0, 0)
    box.state.open_interest[BTC] += house_lots
    return box


def register(box: Sandbox, member: MemberKey, registered: bool = True) -> RegisterBidder:
    unsigned = RegisterBidder(member.address, registered, box.take_nonce(member.address), b"")
    return replace(
        unsigned, signature=sign_typed(member.private_key, unsigned.signable(box.chain_id))
    )


def bid(box: Sandbox, member: MemberKey, auction: int, premium: int) -> AuctionBid:
    unsigned = AuctionBid(member.address, 0, auction, premium, box.take_nonce(member.address), b"")
    return replace(
        unsigned, signature=sign_typed(member.private_key, unsigned.signable(box.chain_id))
    )


def house_lots(state: ClearingState) -> int:
    position = state.members[HOUSE[0]].sub_accounts[0].positions.get(BTC)
    return 0 if position is None else position.quantity


def value(state: ClearingState) -> int:
    cash = sum(a.cash for m in state.members.values() for a in m.sub_accounts.values())
    return cash + state.insurance_fund + state.fee_pool - sum(state.settlement_reserves.values())


def lots(state: ClearingState) -> int:
    return sum(a.positions[BTC].quantity for m in state.members.values()
               for a in m.sub_accounts.values() if BTC in a.positions)  # fmt: skip


def test_the_best_covered_bid_takes_every_lot_at_the_mark_and_pays_its_premium() -> None:
    box = new_box()
    opened = box.apply([register(box, m) for m in BIDDERS])
    (event,) = [e for e in opened.events if e.kind == "auction_opened"]
    auction, closes = event.get("auction"), event.get("closes_height")
    assert (event.get("round"), closes) == (1, box.state.height + WINDOW)
    assert "lots" not in dict(event.data)  # the lots are for registered bidders only
    fund, start = box.state.insurance_fund, value(box.state)
    bids = [bid(box, BIDDERS[0], auction, 5_000), bid(box, BIDDERS[1], auction, 9_000),
            bid(box, BIDDERS[2], auction, 9_000)]  # fmt: skip
    assert all(r.is_ok() for r in box.apply(bids).tx_results)
    while box.state.height < closes:
        settled = [e for e in box.apply([]).events if e.kind == "auction_settled"]
    (won,) = settled
    assert (won.get("member"), won.get("premium")) == (BIDDERS[1].address, 9_000)  # earlier
    assert house_lots(box.state) == 0 and not box.state.auctions
    winner = box.state.members[BIDDERS[1].address].sub_accounts[0]
    assert winner.positions[BTC].quantity == 10
    assert box.state.insurance_fund == fund + 9_000
    assert value(box.state) == start and lots(box.state) == 0


def test_bids_are_checked_like_trades_and_refused_with_their_reasons() -> None:
    box = new_box(window=10)
    box.apply([register(box, BIDDERS[0]), register(box, POOR)])
    (auction,) = box.state.auctions
    assert_rejected(box, bid(box, BIDDERS[1], auction, 1), "NotABidder")
    assert_rejected(box, bid(box, BIDDERS[0], auction + 7, 1), "UnknownAuction")
    detail = assert_rejected(box, bid(box, POOR, auction, 1), "BidNotCovered")
    assert "premium=1" in detail
    forged = replace(bid(box, BIDDERS[0], auction, 1), premium=2)
    assert_rejected(box, forged, "BadSignature")
    while box.state.height + 1 < box.state.auctions[auction].closes_height:
        box.apply([])
    late = bid(box, BIDDERS[0], auction, 1)  # in the closing block: too late
    detail = assert_rejected(box, late, "AuctionClosed")
    assert f"closes_height={box.state.height}" in detail


def test_unsold_lots_are_split_offered_again_then_deleveraged_within_the_bound() -> None:
    box = new_box(house_lots=7)
    start, opened_at = value(box.state), box.state.height + 1
    kinds: list[str] = []
    for _ in range(ROUNDS * WINDOW + 1):
        kinds += [e.kind for e in box.apply([]).events]
    assert kinds.count("auction_opened") == 1 + SPLIT  # round 1, then its two halves
    assert "auction_deleveraged" in kinds
    assert house_lots(box.state) == 0 and not box.state.auctions
    assert box.state.height <= opened_at + ROUNDS * WINDOW
    assert box.state.members[SHORT.address].sub_accounts[0].positions[BTC].quantity == 0
    assert value(box.state) == start and lots(box.state) == 0


def test_lots_split_into_parts_that_add_up() -> None:
    assert split_lots((("A", 7), ("B", -3)), 2) == [(("A", 4), ("B", -2)), (("A", 3), ("B", -1))]
    assert split_lots((("A", 1),), 3) == [(("A", 1),)]


OFFER = st.tuples(st.integers(0, 2), st.integers(-(10**6), 10**6), st.integers(0, ROUNDS * WINDOW))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.lists(OFFER, max_size=6))
def test_the_house_is_flat_within_the_bound_and_no_value_is_created(
    held: int, offers: list[tuple[int, int, int]]
) -> None:
    box = new_box(house_lots=held)
    box.apply([register(box, m) for m in BIDDERS])
    start, first = value(box.state), box.state.height
    for step in range(ROUNDS * WINDOW + 1):
        txs = [bid(box, BIDDERS[who], auction, premium)
               for who, premium, at in offers if at == step
               for auction in sorted(box.state.auctions)]  # fmt: skip
        box.apply(txs)
        assert value(box.state) == start and lots(box.state) == 0
    assert house_lots(box.state) == 0 and not get_free_house_lots(box.state)
    assert not box.state.auctions and box.state.height <= first + ROUNDS * WINDOW + 1


def test_lots_coming_back_the_other_way_are_offered_as_the_house_holds_them() -> None:
    """The house's 10 long lots are under auction when a later default hands it 14 short
    ones: it now holds 4 short. Only those 4 are offered (not 14), the stale auction of
    10 long lapses, and no auction ever offers a side the house does not hold."""
    box = new_box(house_lots=10, window=10)
    box.apply([])
    (first,) = box.state.auctions
    assert box.state.auctions[first].lots == ((BTC, 10),)
    house = get_sub_account_for_write(box.state, *HOUSE)
    taker = get_sub_account_for_write(box.state, BIDDERS[0].address, 0)
    move_lots_at_mark(box.state, house, BTC, -14)  # as a default's hand-over would
    move_lots_at_mark(box.state, taker, BTC, 14)
    start, opened_at = value(box.state), box.state.height + 1
    offered = []
    while box.state.height < opened_at + ROUNDS * 10:
        box.apply([])
        held = house_lots(box.state)
        for auction in box.state.auctions.values():
            offered.append((auction.id, auction.lots))
            if auction.id != first:
                assert all(q * held > 0 and abs(q) <= abs(held) for _, q in auction.lots)
        assert value(box.state) == start and lots(box.state) == 0
    assert (first + 1, ((BTC, -4),)) in offered
    assert house_lots(box.state) == 0 and not box.state.auctions
