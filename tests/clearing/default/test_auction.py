"""Default auctions of the house's lots (clearing/default/auction.py, bidding.py)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.auction import get_free_house_lots, split_lots
from clearing.default.bid_hold import get_bid_requirement
from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.default.house import HOUSE
from clearing.default.steps import move_lots_at_mark
from clearing.state import (
    ClearingState,
    MarginCall,
    Position,
    get_member_for_write,
    get_sub_account_for_write,
)
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.withdrawable import get_withdrawable
from clearnode.client.sandbox_keys import MemberKey, derive_ed25519_key, derive_member_key
from devnet.sandbox import Sandbox
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
    nonce = box.take_nonce(member.address)
    return box.sign(
        member, RegisterBidder(member.address, registered, *box.get_times(), nonce, b"")
    )


def bid(box: Sandbox, member: MemberKey, auction: int, premium: int) -> AuctionBid:
    nonce = box.take_nonce(member.address)
    unsigned = AuctionBid(member.address, 0, auction, premium, *box.get_times(), nonce, b"")
    return box.sign(member, unsigned)


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
    assert "premium=1, equity=1000, requirement=" in detail
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


FUNDS = 10**11  # each bidder's USDC


def settle(box: Sandbox, auction: int) -> list[str]:
    """Blocks until ``auction`` has closed; their event kinds."""
    kinds: list[str] = []
    while auction in box.state.auctions:
        kinds += [e.kind for e in box.apply([]).events]
    return kinds


def test_an_open_bid_holds_its_margin_against_withdrawals_transfers_and_trades() -> None:
    box = new_box(window=10)
    venue = derive_ed25519_key("venue-alpha")
    box.apply([register(box, BIDDERS[0]), *(box.authorise(m, "alpha") for m in BIDDERS[:2])])
    (auction,) = box.state.auctions
    address = BIDDERS[0].address
    assert get_bid_requirement(box.state, address, 0) == 0
    assert box.apply([bid(box, BIDDERS[0], auction, 1_000)]).tx_results[0].is_ok()
    requirement = get_bid_requirement(box.state, address, 0)
    assert requirement > 1_000  # the initial margin of the 10 lots, and the premium
    account = box.state.members[address].sub_accounts[0]
    (usdc,) = [w for w in get_withdrawable(box.state, address, 0, account) if w.key == USDC]
    assert usdc.quanta == FUNDS - requirement
    too_much = FUNDS - requirement + 1
    detail = assert_rejected(box, box.withdraw(BIDDERS[0], USDC, too_much), "OpenBidUncovered")
    assert f"auctions=({auction},), equity_after={requirement - 1}" in detail
    assert_rejected(box, box.transfer(BIDDERS[0], 0, 1, too_much, USDC), "OpenBidUncovered")
    assert box.apply([box.withdraw(BIDDERS[0], USDC, too_much - 1)]).tx_results[0].is_ok()
    mark = box.state.mark_prices[BTC]
    buy, sell = (Trade(n, BTC, *pair, mark, 1) for n, pair in enumerate([
        (address, 0, BIDDERS[1].address, 0), (BIDDERS[1].address, 0, address, 0)], 1))  # fmt: skip
    block = box.apply(
        [sign_trade_batch(venue, box.chain_id, "alpha", 1, (buy, sell), *box.get_times())]
    )
    outcome = [(e.kind, e.get("trade_id"), e.get("code")) for e in block.get_events()
               if e.kind == "trade_rejected"]  # fmt: skip
    assert outcome == [("trade_rejected", 1, "OpenBidUncovered")]  # a buy adds to the lots
    assert box.state.members[address].sub_accounts[0].positions[BTC].quantity == -1  # a sale
    assert "auction_settled" in settle(box, auction)
    assert get_bid_requirement(box.state, address, 0) == 0  # won: the lots are its own now
    assert box.state.members[address].sub_accounts[0].positions[BTC].quantity == 9


def test_a_bid_counts_every_open_bid_of_its_sub_account() -> None:
    box = new_box(window=4)
    box.apply([register(box, BIDDERS[0])])
    settle(box, 1)  # nobody bid: two auctions of 5 lots each
    first, second = sorted(box.state.auctions)
    assert box.apply([bid(box, BIDDERS[0], first, 0)]).tx_results[0].is_ok()
    held = get_bid_requirement(box.state, BIDDERS[0].address, 0)  # 5 lots
    box.apply([box.withdraw(BIDDERS[0], USDC, FUNDS - held - held // 2)])
    detail = assert_rejected(box, bid(box, BIDDERS[0], second, 0), "BidNotCovered")
    assert f"equity={held + held // 2}" in detail  # covers 5 lots, not 10


def test_a_bid_gets_the_reduce_only_checks_of_a_trade() -> None:
    box = new_box(window=10)
    box.apply([register(box, m) for m in (BIDDERS[0], BIDDERS[1], SHORT)])
    (auction,) = box.state.auctions
    for member in (BIDDERS[0], SHORT):  # short of their default-fund contribution
        get_member_for_write(box.state, member.address).default_fund_required = 1
    assert "quantity_after=10" in assert_rejected(
        box, bid(box, BIDDERS[0], auction, 1), "ReduceOnly"
    )
    height = box.state.height
    get_sub_account_for_write(box.state, BIDDERS[1].address, 0).margin_call = MarginCall(
        1, height, height + 100
    )
    (result,) = box.apply([bid(box, BIDDERS[1], auction, 1)]).tx_results  # the call is met
    assert result.code == "MarginCallReduceOnly"  # at the end of the block, not before
    # SHORT holds the other side: taking the house's lots closes its position
    assert box.apply([bid(box, SHORT, auction, 1)]).tx_results[0].is_ok()


def test_at_the_close_a_bid_binds_above_maintenance_and_is_void_below_it() -> None:
    box = new_box(window=10)
    box.apply([register(box, m) for m in BIDDERS[:2]])
    (auction,) = box.state.auctions
    box.apply([bid(box, BIDDERS[0], auction, 9_000), bid(box, BIDDERS[1], auction, 5_000)])
    im = get_bid_requirement(box.state, BIDDERS[1].address, 0) - 5_000  # of the 10 lots
    # The marks moved against both bidders (k = 1/2): the best one would be below
    # maintenance with the lots, the next one below initial margin only.
    equities = {BIDDERS[0]: im // 2 - 1, BIDDERS[1]: im - 1}
    for member, premium in ((BIDDERS[0], 9_000), (BIDDERS[1], 5_000)):
        account = get_sub_account_for_write(box.state, member.address, 0)
        account.cash = equities[member] + premium - FUNDS
    events = []
    while auction in box.state.auctions:
        events += list(box.apply([]).events)
    (void,) = [e for e in events if e.kind == "auction_bid_void"]
    assert (void.get("member"), void.get("code")) == (BIDDERS[0].address, "BidBelowMaintenance")
    assert f"equity={im // 2 - 1}, maintenance={-(-im // 2)}" in str(void.get("detail"))
    (won,) = [e for e in events if e.kind == "auction_settled"]
    assert won.get("member") == BIDDERS[1].address  # bound although below initial margin
    assert house_lots(box.state) == 0
    calls = [e.get("member") for e in box.apply([]).events if e.kind == "margin_call"]
    assert calls == [BIDDERS[1].address]


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
