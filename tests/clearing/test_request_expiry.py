"""Signed requests expire, and a block's refusal spends them (clearing/replay_protection.py
``check_expiry``, member_authorisation.py ``spend_refused_nonce``, trade.py): the signed
bytes of a request never apply after its expiry, nor after a block refused them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.client_requests import AcceptClientAccount, OfferClientAccount
from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.errors import GenesisError
from clearing.genesis import parse_genesis
from clearing.replay_protection import DEFAULT_MAX_REQUEST_LIFETIME_MS
from clearing.trade import Trade, TradeBatch, sign_trade_batch
from clearing.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from tests.clearing.support import (
    ALICE,
    BOB,
    CAROL,
    USDC,
    WETH,
    genesis_doc,
    new_sandbox,
    only_result,
    snapshot,
)

VENUE_KEY = derive_ed25519_key("venue-alpha")
LIFETIME = DEFAULT_MAX_REQUEST_LIFETIME_MS


def funded_box() -> Sandbox:
    """Alice and Bob funded and trading through venue alpha; Carol authorised it, unfunded."""
    box = new_sandbox()
    box.apply(
        [box.credit(ALICE.address, WETH, 1_000), box.credit(BOB.address, USDC, 10**12)]
        + [box.authorise(m, "alpha") for m in (ALICE, BOB, CAROL)]
    )
    return box


def sign_batch(box: Sandbox, batch_id: int, trades: list[Trade], expires_ms: int) -> TradeBatch:
    return sign_trade_batch(VENUE_KEY, box.chain_id, "alpha", batch_id, tuple(trades), expires_ms)


def perp(trade_id: int, buyer: bytes, seller: bytes, lots: int = 1) -> Trade:
    return Trade(trade_id, "BTC-PERP", buyer, 0, seller, 0, 60_000_000, lots)


def test_a_refused_batch_is_not_cleared_when_replayed_after_the_member_is_funded() -> None:
    box = funded_box()
    batch = sign_batch(box, 1, [perp(1, CAROL.address, BOB.address)], box.get_expiry())
    (refused,) = box.apply([batch]).tx_results[0].events[:1]
    assert (refused.kind, refused.get("code")) == ("trade_rejected", "InsufficientMargin")
    box.apply([box.credit(CAROL.address, USDC, 10**12)])  # Carol could pay now
    replayed = box.apply([batch]).tx_results[0].events
    assert [(e.kind, e.get("code")) for e in replayed[:1]] == [("trade_rejected", "DuplicateTrade")]
    assert "BTC-PERP" not in box.state.members[CAROL.address].sub_accounts[0].positions
    fresh = sign_batch(box, 2, [perp(2, CAROL.address, BOB.address)], box.get_expiry())
    assert [e.kind for e in box.apply([fresh]).tx_results[0].events] == ["trade_batch"]


def test_a_refused_withdrawal_is_not_paid_when_replayed_after_funding() -> None:
    box = funded_box()
    withdrawal = box.withdraw(ALICE, WETH, 1_500)
    assert only_result(box.apply([withdrawal]))[0] == "InsufficientCollateral"
    assert withdrawal.nonce in box.state.members[ALICE.address].used_nonces
    box.apply([box.credit(ALICE.address, WETH, 1_000)])
    before = snapshot(box.state)
    assert only_result(box.apply([withdrawal]))[0] == "NonceReused"
    assert snapshot(box.state) == before
    assert box.state.pending_withdrawals == {}


def test_a_refusal_for_the_signature_spends_no_nonce() -> None:
    """Nobody can burn a member's nonces with requests it did not sign: refused for want
    of collateral, a request signed by another spends nothing."""
    box = funded_box()
    forged = box.sign(BOB, box.withdraw(ALICE, WETH, 1_500))
    before = snapshot(box.state)
    assert only_result(box.apply([forged]))[0] == "InsufficientCollateral"
    assert snapshot(box.state) == before
    assert only_result(box.apply([box.sign(ALICE, replace(forged, quanta=10))]))[0] == "ok"


def test_an_expired_request_is_refused_in_a_block_naming_its_expiry() -> None:
    box = funded_box()
    time_ms = box.next_context().time_ms
    late = box.sign(ALICE, replace(box.withdraw(ALICE, WETH, 10), expires_ms=time_ms - 1))
    batch = sign_batch(box, 1, [perp(1, ALICE.address, BOB.address)], time_ms - 1)
    before = snapshot(box.state)
    results = box.apply([late, batch]).tx_results
    assert [r.code for r in results] == ["RequestExpired", "RequestExpired"]
    assert (
        f"what='Withdrawal', expires_ms={time_ms - 1}, block_time_ms={time_ms}" in results[0].detail
    )
    assert f"what='TradeBatch', expires_ms={time_ms - 1}" in results[1].detail
    assert snapshot(box.state) == before  # nothing spent: it can never apply anyway


def test_an_expiry_beyond_the_longest_lifetime_is_refused() -> None:
    box = funded_box()
    far = box.next_context().time_ms + LIFETIME + 1
    (result,) = box.apply(
        [box.sign(ALICE, replace(box.withdraw(ALICE, WETH, 10), expires_ms=far))]
    ).tx_results
    assert result.code == "ExpiryTooFar" and f"max_lifetime_ms={LIFETIME}" in result.detail


@pytest.mark.parametrize(
    ("value", "ok"), [(1_000, True), (604_800_000, True), (999, False), ("1h", False)]
)
def test_the_longest_lifetime_is_a_bounded_genesis_key(value: object, ok: bool) -> None:
    doc = genesis_doc()
    doc["max_request_lifetime_ms"] = value
    if ok:
        assert parse_genesis(doc).max_request_lifetime_ms == value
    else:
        with pytest.raises(GenesisError) as refused:
            parse_genesis(doc)
        assert refused.value.key == "max_request_lifetime_ms"
    del doc["max_request_lifetime_ms"]
    assert parse_genesis(doc).max_request_lifetime_ms == LIFETIME


def make_request(box: Sandbox, kind: str, expires_ms: int) -> Any:
    """One signed request of ``kind`` (a member request type or ``TradeBatch``) that would
    apply, or be refused by a later rule, at the next block."""
    if kind == "TradeBatch":
        trade_id = box.state.height + 1  # increasing: never stale, never a duplicate
        return sign_batch(box, trade_id, [perp(trade_id, ALICE.address, BOB.address)], expires_ms)
    nonce = box.take_nonce(ALICE.address)
    me, other = ALICE.address, BOB.address
    unsigned = {
        "Withdrawal": lambda: replace(box.withdraw(ALICE, WETH, 1), nonce=nonce),
        "Transfer": lambda: replace(box.transfer(ALICE, 0, 1, 1, WETH), nonce=nonce),
        "AuthoriseVenue": lambda: replace(box.authorise(ALICE, "alpha"), nonce=nonce),
        "RegisterBidder": lambda: RegisterBidder(me, True, 0, nonce, b""),
        "AuctionBid": lambda: AuctionBid(me, 0, 1, 5, 0, nonce, b""),
        "OfferClientAccount": lambda: OfferClientAccount(
            me, other, "omnibus", bytes(20), 0, nonce, b""
        ),
        "AcceptClientAccount": lambda: AcceptClientAccount(
            me, other, "omnibus", bytes(20), 0, nonce, b""
        ),
    }[kind]()
    return box.sign(ALICE, replace(unsigned, expires_ms=expires_ms))


KINDS = ["TradeBatch", "Withdrawal", "Transfer", "AuthoriseVenue", "RegisterBidder",
         "AuctionBid", "OfferClientAccount", "AcceptClientAccount"]  # fmt: skip
offsets = st.integers(-3_000, 3_000) | st.sampled_from([-1, 0, 1, LIFETIME, LIFETIME + 1])


steps = st.tuples(st.sampled_from(KINDS), offsets, st.integers(1, 5_000))  # advance in ms
EXPIRY_FIRST = ("TradeBatch", "Withdrawal", "Transfer", "RegisterBidder")


@settings(max_examples=40, deadline=None)
@given(st.lists(steps, min_size=1, max_size=6))
def test_no_signed_request_applies_after_its_expiry(steps: list[tuple[str, int, int]]) -> None:
    """Whatever the block times and expiries: past its expiry (or too far before it) a
    request is refused and changes nothing, not even its nonce or trade id (a rule
    checked before the expiry may give another reason: an unknown auction); within it,
    the expiry is never the reason."""
    box = funded_box()
    for kind, offset, advance in steps:
        box.block_interval_ms = advance
        time_ms = box.next_context().time_ms
        expires_ms = max(0, time_ms + offset)
        tx = make_request(box, kind, expires_ms)
        before = snapshot(box.state)
        (result,) = box.apply([encode_tx(tx)]).tx_results
        if time_ms > expires_ms or expires_ms - time_ms > LIFETIME:
            assert not result.is_ok() and snapshot(box.state) == before, result
            if kind in EXPIRY_FIRST:
                expected = "RequestExpired" if time_ms > expires_ms else "ExpiryTooFar"
                assert result.code == expected, result
                assert f"expires_ms={expires_ms}, block_time_ms={time_ms}" in result.detail
        else:
            assert result.code not in ("RequestExpired", "ExpiryTooFar"), result
        assert not result.is_ok() or time_ms <= expires_ms
