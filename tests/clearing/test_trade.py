"""Trade batches: signature, per-trade checks with typed reasons, novation, netting, fees."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.errors import BadSignature, DuplicateTrade, InsufficientEquity, UnknownVenue
from clearing.events import Event
from clearing.replay_protection import check_trade_id
from clearing.state import Member, Position, SubAccount
from clearing.transition.trade import (
    Trade,
    TradeBatch,
    process_trade_batch,
    sign_trade_batch,
)
from clearnode.client.sandbox_keys import MemberKey, derive_ed25519_key, derive_member_key
from devnet.sandbox import Sandbox
from records.codec import DecodeError, pack, unpack
from tests.clearing.support import USDC, collected_fees, new_sandbox, snapshot

VENUE = "alpha"
VENUE_KEY = derive_ed25519_key("venue-alpha")
PERP = "BTC-PERP"
MARK = 60_000_000  # BTC-PERP mark at genesis, settlement units per lot
FEE_PER_LOT = 30_000  # ceil(60_000_000 * 5 / 10_000)


def trading_box(
    count: int = 4, authorise: bool = True, box: Sandbox | None = None
) -> tuple[Sandbox, list[MemberKey]]:
    """A sandbox with ``count`` funded members, each authorising venue alpha."""
    box = new_sandbox() if box is None else box
    members = [derive_member_key(f"trader-{n}") for n in range(count)]
    txs: list[object] = [box.credit(m.address, USDC, 10**12) for m in members]
    if authorise:
        txs += [box.authorise(m, VENUE) for m in members]
    block = box.apply(txs)  # type: ignore[arg-type]
    assert all(r.is_ok() for r in block.tx_results), block.tx_results
    return box, members


def make_trade(
    trade_id: int,
    buyer: MemberKey,
    seller: MemberKey,
    price: int = MARK,
    quantity: int = 1,
    instrument: str = PERP,
    buyer_sub: int = 0,
    seller_sub: int = 0,
) -> Trade:
    return Trade(
        trade_id, instrument, buyer.address, buyer_sub, seller.address, seller_sub, price, quantity
    )


def make_batch(
    box: Sandbox, trades: list[Trade], batch_id: int = 1, times: tuple[int, int] | None = None
) -> TradeBatch:
    """Signed as issued and expiring at ``times`` (default: the sandbox's)."""
    issued, expiry = box.get_times() if times is None else times
    return sign_trade_batch(VENUE_KEY, box.chain_id, VENUE, batch_id, tuple(trades), issued, expiry)


def clear(box: Sandbox, trades: list[Trade], batch_id: int = 1) -> list[Event]:
    return process_trade_batch(box.state, box.next_context(), make_batch(box, trades, batch_id))


def position(box: Sandbox, member: MemberKey, sub: int = 0, instrument: str = PERP) -> Position:
    return box.state.members[member.address].sub_accounts[sub].positions[instrument]


def cash(box: Sandbox, member: MemberKey, sub: int = 0) -> int:
    return box.state.members[member.address].sub_accounts[sub].cash


def rejections(events: list[Event]) -> list[tuple[int, str]]:
    return [
        (int(e.get("trade_id")), str(e.get("code"))) for e in events if e.kind == "trade_rejected"
    ]


def test_a_trade_becomes_two_opposite_positions_against_the_clearing_house() -> None:
    box, (a, b, *_) = trading_box()
    events = clear(box, [make_trade(1, a, b, quantity=3)])
    assert rejections(events) == []
    assert events[-1].get("cleared") == 1
    assert position(box, a) == Position(3, MARK, MARK, 0, 0)
    assert position(box, b) == Position(-3, MARK, MARK, 0, 0)
    assert box.state.open_interest[PERP] == 3
    assert cash(box, a) == cash(box, b) == -3 * FEE_PER_LOT
    assert collected_fees(box.state) == 6 * FEE_PER_LOT
    with pytest.raises(DuplicateTrade):
        check_trade_id(box.state.trade_windows, box.genesis.trade_id_window, VENUE, 1)


def test_trade_price_to_settlement_price_is_settled_at_once() -> None:
    box, (a, b, *_) = trading_box()
    price = MARK - 100_000
    fee = -(-price * 2 * 5 // 10_000)
    clear(box, [make_trade(1, a, b, price=price, quantity=2)])
    assert cash(box, a) == 2 * 100_000 - fee  # bought below the settlement price
    assert cash(box, b) == -2 * 100_000 - fee
    assert position(box, a).settlement_price == MARK
    assert position(box, a).average_entry_price == price


def test_fee_rounds_up_against_the_member() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b, price=1_500_010, instrument="BTC-26DEC26-65000-C")])
    assert collected_fees(box.state) == 2 * 451  # ceil(1_500_010 * 3 / 10_000) = ceil(450.003)


def test_netting_adds_reduces_flips_and_closes() -> None:
    box, (a, b, c, _) = trading_box()
    clear(box, [make_trade(1, a, b, quantity=5), make_trade(2, c, a, quantity=2, price=MARK + 100)])
    assert position(box, a).quantity == 3
    assert position(box, a).realised_pnl == 2 * 100
    assert box.state.open_interest[PERP] == 5  # a: 3, c: 2
    clear(box, [make_trade(3, b, a, quantity=7)], batch_id=2)  # a flips to short 4
    assert position(box, a).quantity == -4
    assert position(box, b).quantity == 2
    assert box.state.open_interest[PERP] == 4  # b: 2, c: 2
    clear(box, [make_trade(4, a, b, quantity=2), make_trade(5, a, c, quantity=2)], batch_id=3)
    for member in (a, b, c):
        assert position(box, member).quantity == 0
    assert position(box, a) == Position(0, 0, MARK, 2 * 100, 0)  # realised PnL is kept
    assert box.state.open_interest[PERP] == 0


def test_a_member_short_of_its_default_fund_contribution_may_only_reduce() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(1, a, b, quantity=3)])
    box.state.members[a.address].default_fund_required = 1  # as an epoch step leaves it
    events = clear(box, [make_trade(2, a, b), make_trade(3, b, a, quantity=2)], batch_id=2)
    assert rejections(events) == [(2, "ReduceOnly")]  # growing the long is refused
    assert position(box, a).quantity == 1  # shrinking it is not
    events = clear(box, [make_trade(4, b, a, quantity=2)], batch_id=3)
    assert rejections(events) == [(4, "ReduceOnly")]  # neither is flipping to short
    box.state.members[a.address].default_fund = 1  # topped up: trades freely again
    assert rejections(clear(box, [make_trade(5, a, b)], batch_id=4)) == []


def test_replayed_trade_is_rejected_with_its_id() -> None:
    box, (a, b, *_) = trading_box()
    clear(box, [make_trade(7, a, b)])
    events = clear(box, [make_trade(7, a, b), make_trade(8, a, b)], batch_id=2)
    assert rejections(events) == [(7, "DuplicateTrade")]
    assert "trade_id=7" in str(events[0].get("detail"))
    assert position(box, a).quantity == 2


def test_duplicate_inside_one_batch_is_rejected() -> None:
    box, (a, b, *_) = trading_box()
    events = clear(box, [make_trade(1, a, b), make_trade(1, a, b)])
    assert rejections(events) == [(1, "DuplicateTrade")]


@pytest.mark.parametrize(
    ("change", "code", "numbers"),
    [
        ({"instrument_id": "DOGE-PERP"}, "UnknownInstrument", "DOGE-PERP"),
        ({"quantity": 0}, "InvalidAmount", "value=0"),
        ({"price": MARK + 50}, "OffTick", "tick_size=100"),
        ({"price": 0}, "InvalidAmount", "field='price', value=0"),
        ({"quantity": 2**62 // MARK + 1}, "InvalidAmount", "position_notional"),
        ({"price": MARK * 106 // 100}, "OutsideBand", "band_bps=500"),
        ({"seller": bytes(20)}, "UnknownMember", "0x" + "00" * 20),
    ],
)
def test_each_bad_trade_is_rejected_alone_with_a_typed_reason(
    change: dict[str, object], code: str, numbers: str
) -> None:
    box, (a, b, c, d) = trading_box()
    bad = replace(make_trade(2, a, b), **change)  # type: ignore[arg-type]
    before_fee_pool = collected_fees(box.state)
    events = clear(box, [make_trade(1, c, d), bad, make_trade(3, c, d)])
    assert rejections(events) == [(2, code)]
    assert numbers in str(events[0].get("detail"))
    with pytest.raises(DuplicateTrade):  # spent all the same: its bytes never clear later
        check_trade_id(box.state.trade_windows, box.genesis.trade_id_window, VENUE, 2)
    assert PERP not in box.state.members[a.address].sub_accounts[0].positions
    assert collected_fees(box.state) == before_fee_pool + 4 * FEE_PER_LOT


def test_band_edge_is_inclusive() -> None:
    box, (a, b, *_) = trading_box()
    events = clear(box, [make_trade(1, a, b, price=MARK * 105 // 100)])
    assert rejections(events) == []


def test_venue_must_be_authorised_by_both_members() -> None:
    box, (a, b, *_) = trading_box(authorise=False)
    box.apply([box.authorise(a, VENUE)])
    events = clear(box, [make_trade(1, a, b)])
    assert rejections(events) == [(1, "VenueNotAuthorised")]
    assert b.address.hex() in str(events[0].get("detail"))


def test_trading_with_yourself_in_one_sub_account_is_rejected() -> None:
    box, (a, *_) = trading_box()
    box.apply([box.credit(a.address, USDC, 10**12, sub_account=1)])  # margin for the short side
    events = clear(box, [make_trade(1, a, a), make_trade(2, a, a, seller_sub=1)])
    assert rejections(events) == [(1, "SameSubAccount")]
    assert position(box, a, 0).quantity == 1
    assert position(box, a, 1).quantity == -1


def test_expired_instrument_is_rejected() -> None:
    box, (a, b, *_) = trading_box()
    expiry = box.state.instruments["BTC-26DEC26"].expiry_ms
    assert expiry is not None
    trade = make_trade(1, a, b, price=60_300_000, instrument="BTC-26DEC26")
    batch = make_batch(box, [trade], times=(expiry, expiry))
    ctx = replace(box.next_context(), time_ms=expiry)
    events = process_trade_batch(box.state, ctx, batch)
    assert rejections(events) == [(1, "InstrumentExpired")]


def test_unknown_venue_rejects_the_whole_batch() -> None:
    box, (a, b, *_) = trading_box()
    batch = replace(make_batch(box, [make_trade(1, a, b)]), venue_id="beta")
    before = snapshot(box.state)
    with pytest.raises(UnknownVenue):
        process_trade_batch(box.state, box.next_context(), batch)
    assert snapshot(box.state) == before


@pytest.mark.parametrize("tamper", ["trade", "chain", "key"])
def test_bad_signature_rejects_the_whole_batch(tamper: str) -> None:
    box, (a, b, *_) = trading_box()
    trades = (make_trade(1, a, b),)
    if tamper == "trade":
        batch = replace(make_batch(box, list(trades)), trades=(make_trade(1, a, b, quantity=9),))
    elif tamper == "chain":
        batch = sign_trade_batch(VENUE_KEY, box.chain_id + 1, VENUE, 1, trades, *box.get_times())
    else:
        batch = sign_trade_batch(
            derive_ed25519_key("mallory"), box.chain_id, VENUE, 1, trades, *box.get_times()
        )
    before = snapshot(box.state)
    with pytest.raises(BadSignature):
        process_trade_batch(box.state, box.next_context(), batch)
    assert snapshot(box.state) == before


def test_pre_trade_margin_hook_sees_the_post_trade_position_and_can_reject(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, (a, b, *_) = trading_box()
    seen: list[tuple[str, int, int, int]] = []

    def refuse_sellers(
        clearing: object, member: Member, sub: int, account: SubAccount | None, instrument: str,
        lots: int, quantity: int, cash_delta: int,
    ) -> None:  # fmt: skip
        seen.append((instrument, lots, quantity, cash_delta))
        if quantity < 0:
            raise InsufficientEquity(member.address, sub, cash_delta, 10**18)

    monkeypatch.setattr("clearing.transition.trade.check_pre_trade_margin", refuse_sellers)
    before = snapshot(box.state)
    events = clear(box, [make_trade(1, a, b, quantity=2)])
    assert rejections(events) == [(1, "InsufficientEquity")]
    assert snapshot(box.state)[:-1] == before[:-1]  # all but the replay state: its id spent
    assert seen[0] == (PERP, 0, 2, -2 * FEE_PER_LOT)


def test_batch_round_trips_through_its_encoding() -> None:
    box, (a, b, *_) = trading_box()
    batch = make_batch(box, [make_trade(1, a, b), make_trade(2, b, a, quantity=4, buyer_sub=3)])
    again = TradeBatch.from_fields(unpack(pack(batch.to_fields()), "batch"))
    assert again == batch


@pytest.mark.parametrize(
    "fields",
    [
        ["alpha", 1, [], bytes(64)],  # no trades
        ["alpha", 1, [[1, "BTC-PERP", bytes(20), 0, bytes(20), 0, 1, 1]], bytes(63)],
        ["alpha", 1, [[1, "BTC-PERP", bytes(19), 0, bytes(20), 0, 1, 1]], bytes(64)],
        ["alpha", 1, [[1, "BTC-PERP", bytes(20), 0, bytes(20), 0, -1, 1]], bytes(64)],
        ["alpha", 1, [[1, "BTC-PERP", bytes(20), 0, bytes(20), 0, 1]], bytes(64)],
        ["", 1, [[1, "BTC-PERP", bytes(20), 0, bytes(20), 0, 1, 1]], bytes(64)],
        ["alpha", 1, [[1, "BTC-PERP", bytes(20), 2**32, bytes(20), 0, 1, 1]], bytes(64)],
        ["alpha", 1, [[1, "BTC-PERP", bytes(20), 0, bytes(20), 0, 1, 1]]],
    ],
)
def test_malformed_batches_are_decode_errors(fields: list[object]) -> None:
    with pytest.raises(DecodeError):
        TradeBatch.from_fields(fields)


def test_a_batch_clears_end_to_end_through_process_block() -> None:
    box, (a, b, *_) = trading_box()
    block = box.apply([make_batch(box, [make_trade(1, a, b, quantity=2)])])
    (result,) = block.tx_results
    assert result.is_ok(), result.detail
    assert position(box, a).quantity == 2
    replayed = box.apply([make_batch(box, [make_trade(1, a, b)], batch_id=2)])
    assert rejections(list(replayed.tx_results[0].events)) == [(1, "DuplicateTrade")]
    moved = box.apply([box.prices({"BTC/0.001": MARK}, {PERP: MARK + 1_000})])
    assert moved.tx_results[0].is_ok(), moved.tx_results[0].detail
    assert [e.get("paid") for e in moved.events if e.kind == "variation_margin"] == [2_000]
    usdc = box.state.members[a.address].sub_accounts[0].collateral[USDC]
    assert cash(box, a) == 2_000  # its fees were paid from its USDC in the trade's block
    assert usdc == 10**12 - 2 * FEE_PER_LOT
    assert position(box, b).settlement_price == MARK + 1_000


def test_a_batch_with_a_bad_signature_fails_in_the_block_and_changes_nothing() -> None:
    box, (a, b, *_) = trading_box()
    batch = replace(make_batch(box, [make_trade(1, a, b)]), signature=bytes(64))
    before = snapshot(box.state)
    block = box.apply([batch])
    assert block.tx_results[0].code == "BadSignature"
    assert snapshot(box.state) == before


wire_value = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**65), 2**65), st.text(max_size=70),
    st.binary(max_size=70), st.lists(st.integers(), max_size=9),
)  # fmt: skip


@given(st.integers(0, 11), wire_value)
def test_any_corrupted_field_is_a_decode_error_or_still_a_valid_batch(
    slot: int, value: object
) -> None:
    trade: list[object] = [1, "BTC-PERP", bytes(20), 0, bytes(20), 1, 100, 1]
    fields: list[object] = ["alpha", 1, [trade], bytes(64)]
    if slot < 4:
        fields[slot] = value
    else:
        trade[slot - 4] = value
    try:
        batch = TradeBatch.from_fields(fields)
    except DecodeError:
        return
    assert TradeBatch.from_fields(batch.to_fields()) == batch
