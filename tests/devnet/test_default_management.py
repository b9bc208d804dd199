"""The summary says how each default auction and margin call ended."""

from __future__ import annotations

from devnet.default_management import DefaultManagement

A, B, C = (bytes([n]) * 20 for n in range(1, 4))


def test_default_management_lists_how_each_auction_and_call_ended() -> None:
    names = {A: "member-2 (market maker)", B: "member-6 (long)", C: "member-7 (long)"}
    record = DefaultManagement()
    for height, kind, data in [
        (10, "auction_opened", {"auction": 1, "round": 1, "closes_height": 13}),
        (10, "margin_call", call(B, due=5_000_000, deadline=15)),
        (10, "margin_call", call(C, due=7_000_000, deadline=15)),
        (12, "margin_call_met", call(B, due=5_000_000, deadline=15)),
        (13, "auction_opened", {"auction": 2, "round": 2, "closes_height": 16}),
        (15, "margin_call_expired", call(C, due=7_000_000, deadline=15)),
        (15, "margin_call_closed", call(C, due=7_000_000, deadline=15)),
        (16, "auction_bid_void", {"auction": 2, "member": C, "code": "ReduceOnly"}),
        (16, "auction_settled", {"auction": 2, "member": A, "premium": 0, "lots": 12}),
    ]:
        record.record(height, kind, data, names.__getitem__)
    assert record.get_lines() == [
        "default auction 1 (round 1, height 10): re-auctioned in smaller lots",
        "default auction 2 (round 2, height 13) won by member-2 (market maker) at a premium "
        "of 0.00 USD: 12 lots at the mark (bids void: member-7 (long): ReduceOnly)",
        "margin call met: member-6 (long) sub-account 1 owed 5.00 USD by height 15 "
        "(called at 10), met at height 12",
        "margin call not met: member-7 (long) sub-account 1 owed 7.00 USD by height 15 "
        "(called at 10) -> liquidated at height 15",
    ]
    assert [c["outcome"] for c in record.get_margin_calls()] == ["met", "expired -> liquidated"]
    assert record.get_auctions()[1]["winner"] == "member-2 (market maker)"


def call(member: bytes, due: int, deadline: int) -> dict[str, object]:
    return {"member": member, "sub_account": 1, "amount_due": due, "deadline_height": deadline}
