"""What the devnet's members decide on their own (devnet/script.py)."""

from __future__ import annotations

from clearnode.client.views import Auction
from devnet.script import get_unwinding_auctions


def auction(number: int, *lots: tuple[str, int]) -> Auction:
    return Auction(
        auction=number, round=1, closesHeight=20,
        lots=[{"instrument": iid, "quantity": quantity} for iid, quantity in lots],
    )  # fmt: skip


def test_a_market_maker_bids_only_for_lots_that_unwind_its_book() -> None:
    book = {"ETH-PERP": -300, "BTC-PERP": 2}
    auctions = [
        auction(1, ("ETH-PERP", 180)),  # takes the short from -300 to -120
        auction(2, ("ETH-PERP", 180)),  # after auction 1 it would flip the short to +60
        auction(3, ("BTC-PERP", -2), ("ETH-PERP", 100)),  # both towards flat
        auction(4, ("BTC-PERP", 1)),  # grows the long
        auction(5, ("SOL-PERP", -1)),  # opens a position
    ]
    assert [a["auction"] for a in get_unwinding_auctions(book, auctions, set())] == [1, 3]
    # an auction already bid in counts as won: its lots are no longer the maker's to take
    assert [a["auction"] for a in get_unwinding_auctions(book, auctions, {1})] == [3]
    assert [a["auction"] for a in get_unwinding_auctions(book, auctions, {3})] == [1]
    assert get_unwinding_auctions({}, auctions, set()) == []
