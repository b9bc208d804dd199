"""Signed requests carry the time they were signed and their expiry, and a block's refusal
spends them (clearing/replay_protection.py ``check_request_times``,
member_authorisation.py ``spend_refused_nonce``, transition/trade.py ``spend_refused_trade_ids``):
the signed bytes of a request never apply after its expiry, nor after a block refused
them, nor ever once refused for a signed lifetime over the limit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.errors import ExpiryTooFar, GenesisError, InvalidTransaction, IssuedInFuture
from clearing.genesis import parse_genesis
from clearing.replay_protection import DEFAULT_MAX_REQUEST_LIFETIME_MS, MAX_ISSUED_AHEAD_MS
from clearing.transition.admission import admit_transaction
from clearing.transition.block import TxResult
from clearing.transition.client_requests import AcceptClientAccount, OfferClientAccount
from clearing.transition.trade import Trade, TradeBatch, sign_trade_batch
from clearing.transition.tx import decode_tx, encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from records.codec import DecodeError
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
AHEAD = MAX_ISSUED_AHEAD_MS


def funded_box() -> Sandbox:
    """Alice and Bob funded and trading through venue alpha; Carol authorised it, unfunded."""
    box = new_sandbox()
    credits = [box.credit(ALICE.address, WETH, 1_000), box.credit(ALICE.address, USDC, 10**12)]
    box.apply(
        [*credits, box.credit(BOB.address, USDC, 10**12)]
        + [box.authorise(m, "alpha") for m in (ALICE, BOB, CAROL)]
    )
    return box


def sign_batch(
    box: Sandbox, batch_id: int, trades: list[Trade], times: tuple[int, int] | None = None
) -> TradeBatch:
    """Signed as issued and expiring at ``times`` (default: the sandbox's)."""
    issued, expiry = box.get_times() if times is None else times
    return sign_trade_batch(
        VENUE_KEY, box.chain_id, "alpha", batch_id, tuple(trades), issued, expiry
    )


def perp(trade_id: int, buyer: bytes, seller: bytes, lots: int = 1) -> Trade:
    return Trade(trade_id, "BTC-PERP", buyer, 0, seller, 0, 60_000_000, lots)


def withdrawal(box: Sandbox, issued_at_ms: int, expires_ms: int, quanta: int = 10) -> Any:
    unsigned = box.withdraw(ALICE, WETH, quanta)
    return box.sign(ALICE, replace(unsigned, issued_at_ms=issued_at_ms, expires_ms=expires_ms))


def test_a_refused_batch_is_not_cleared_when_replayed_after_the_member_is_funded() -> None:
    box = funded_box()
    batch = sign_batch(box, 1, [perp(1, CAROL.address, BOB.address)])
    (refused,) = box.apply([batch]).tx_results[0].events[:1]
    assert (refused.kind, refused.get("code")) == ("trade_rejected", "InsufficientMargin")
    box.apply([box.credit(CAROL.address, USDC, 10**12)])  # Carol could pay now
    replayed = box.apply([batch]).tx_results[0].events
    assert [(e.kind, e.get("code")) for e in replayed[:1]] == [("trade_rejected", "DuplicateTrade")]
    assert "BTC-PERP" not in box.state.members[CAROL.address].sub_accounts[0].positions
    fresh = sign_batch(box, 2, [perp(2, CAROL.address, BOB.address)])
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
    late = withdrawal(box, time_ms - 1, time_ms - 1)
    batch = sign_batch(box, 1, [perp(1, ALICE.address, BOB.address)], (time_ms - 1, time_ms - 1))
    before = snapshot(box.state)
    results = box.apply([late, batch]).tx_results
    assert [r.code for r in results] == ["RequestExpired", "RequestExpired"]
    assert (
        f"what='Withdrawal', expires_ms={time_ms - 1}, block_time_ms={time_ms}" in results[0].detail
    )
    assert f"what='TradeBatch', expires_ms={time_ms - 1}" in results[1].detail
    assert snapshot(box.state) == before  # nothing spent: it can never apply anyway


def test_a_lifetime_over_the_limit_or_below_zero_is_refused_at_every_time() -> None:
    """Read from the signed bytes alone: the same refusal, with the same numbers, at the
    block it was signed for and at every later one, on either path; nothing is spent."""
    box = funded_box()
    issued = box.next_context().time_ms
    too_long = withdrawal(box, issued, issued + LIFETIME + 1)
    backwards = withdrawal(box, issued, issued - 1)
    batch = sign_batch(
        box, 1, [perp(1, ALICE.address, BOB.address)], (issued, issued + LIFETIME + 1)
    )
    before = snapshot(box.state)
    for advance in (1, LIFETIME, LIFETIME + 1):  # within the lifetime it asked for, and past
        box.block_interval_ms = advance
        results = box.apply([too_long, backwards, batch]).tx_results
        assert [r.code for r in results] == ["ExpiryTooFar", "ExpiryBeforeIssue", "ExpiryTooFar"]
        assert (
            f"what='Withdrawal', issued_at_ms={issued}, expires_ms={issued + LIFETIME + 1}, "
            f"max_lifetime_ms={LIFETIME}" in results[0].detail
        )
        assert f"issued_at_ms={issued}, expires_ms={issued - 1}" in results[1].detail
        assert snapshot(box.state) == before
        with pytest.raises(ExpiryTooFar):
            admit_transaction(box.state, too_long, encode_tx(too_long), box.next_context().time_ms)


@pytest.mark.parametrize("kind", ["Withdrawal", "TradeBatch"])
def test_a_request_issued_ahead_is_refused_until_its_time_saying_how_to_supersede_it(
    kind: str,
) -> None:
    """Not final at admission: the refusal says from when these bytes may apply and how
    to supersede them, and they do apply then."""
    box = funded_box()
    time_ms = box.next_context().time_ms
    issued = time_ms + AHEAD + 1
    tx = make_request(box, kind, issued, issued + 60_000)
    with pytest.raises(IssuedInFuture) as refused:
        admit_transaction(box.state, tx, encode_tx(tx), time_ms)
    error = refused.value
    assert (error.issued_at_ms, error.block_time_ms, error.max_ahead_ms) == (issued, time_ms, AHEAD)
    assert (error.applies_from_ms, error.expires_ms) == (time_ms + 1, issued + 60_000)
    supersede = "under the same ids" if kind == "TradeBatch" else "with the same nonce"
    assert f"may apply at a block time from {time_ms + 1} to {issued + 60_000}" in str(error)
    assert supersede in str(error)
    box.block_interval_ms += 1
    admit_transaction(box.state, tx, encode_tx(tx), box.next_context().time_ms)
    assert applied(kind, only_result_of(box.apply([tx])))


@pytest.mark.parametrize("kind", ["Withdrawal", "TradeBatch"])
def test_a_block_s_refusal_of_a_request_issued_ahead_is_final(kind: str) -> None:
    """Forced into a block before its time, it spends its nonce or trade ids: the same
    bytes never apply, at their time or later."""
    box = funded_box()
    issued = box.next_context().time_ms + AHEAD + 1
    tx = make_request(box, kind, issued, issued + 60_000)
    assert only_result(box.apply([tx]))[0] == "IssuedInFuture"
    box.block_interval_ms = AHEAD
    again = only_result_of(box.apply([tx]))
    assert not applied(kind, again)
    assert again.code == "NonceReused" or [e.get("code") for e in again.events[:1]] == [
        "DuplicateTrade"
    ]


def test_a_request_with_the_same_nonce_supersedes_one_issued_ahead() -> None:
    """The way out the refusal names: sign the replacement with the same nonce; once it
    applies, the bytes issued ahead never do."""
    box = funded_box()
    time_ms = box.next_context().time_ms
    ahead = withdrawal(box, time_ms + 10 * AHEAD, time_ms + 10 * AHEAD + 60_000)
    with pytest.raises(IssuedInFuture):
        admit_transaction(box.state, ahead, encode_tx(ahead), time_ms)
    replacement = box.sign(ALICE, replace(ahead, issued_at_ms=time_ms, expires_ms=time_ms + 60_000))
    assert only_result(box.apply([replacement]))[0] == "ok"
    box.block_interval_ms = 10 * AHEAD
    assert only_result(box.apply([ahead]))[0] == "NonceReused"


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


def make_request(box: Sandbox, kind: str, issued_at_ms: int, expires_ms: int) -> Any:
    """One signed request of ``kind`` (a member request type or ``TradeBatch``) that would
    apply, or be refused by a later rule, at the next block."""
    if kind == "TradeBatch":
        trade_id = box.state.height + 1  # increasing: never stale, never a duplicate
        trades = [perp(trade_id, ALICE.address, BOB.address)]
        return sign_batch(box, trade_id, trades, (issued_at_ms, expires_ms))
    nonce = box.take_nonce(ALICE.address)
    me, other = ALICE.address, BOB.address
    unsigned = {
        "Withdrawal": lambda: replace(box.withdraw(ALICE, WETH, 1), nonce=nonce),
        "Transfer": lambda: replace(box.transfer(ALICE, 0, 1, 1, WETH), nonce=nonce),
        "AuthoriseVenue": lambda: replace(box.authorise(ALICE, "alpha"), nonce=nonce),
        "RegisterBidder": lambda: RegisterBidder(me, True, 0, 0, nonce, b""),
        "AuctionBid": lambda: AuctionBid(me, 0, 1, 5, 0, 0, nonce, b""),
        "OfferClientAccount": lambda: OfferClientAccount(
            me, other, "omnibus", bytes(20), 0, 0, nonce, b""
        ),
        "AcceptClientAccount": lambda: AcceptClientAccount(
            me, other, "omnibus", bytes(20), 0, 0, nonce, b""
        ),
    }[kind]()
    return box.sign(ALICE, replace(unsigned, issued_at_ms=issued_at_ms, expires_ms=expires_ms))


def only_result_of(block: Any) -> TxResult:
    (result,) = block.tx_results
    return result


def applied(kind: str, result: TxResult) -> bool:
    """Whether the request changed what it asked for: a member request is applied when
    its result is ok, a batch when it cleared a trade (its trades may all be rejected)."""
    if not result.is_ok():
        return False
    return kind != "TradeBatch" or any(
        e.kind == "trade_batch" and e.get("cleared") for e in result.events
    )


KINDS = ["TradeBatch", "Withdrawal", "Transfer", "AuthoriseVenue", "RegisterBidder",
         "AuctionBid", "OfferClientAccount", "AcceptClientAccount"]  # fmt: skip
offsets = st.integers(-3_000, 3_000) | st.sampled_from([-1, 0, 1, LIFETIME, LIFETIME + 1])
steps = st.tuples(st.sampled_from(KINDS), offsets, st.integers(1, 5_000))  # advance in ms
EXPIRY_FIRST = ("TradeBatch", "Withdrawal", "Transfer", "RegisterBidder")


@settings(max_examples=40, deadline=None)
@given(st.lists(steps, min_size=1, max_size=6))
def test_no_signed_request_applies_after_its_expiry(steps: list[tuple[str, int, int]]) -> None:
    """Whatever the block times and expiries (each signed at its block's time): past its
    expiry, or signed to live longer than the limit, a request is refused and changes
    nothing, not even its nonce or trade id (a rule checked before the times may give
    another reason: an unknown auction); within them, the times are never the reason."""
    box = funded_box()
    for kind, offset, advance in steps:
        box.block_interval_ms = advance
        time_ms = box.next_context().time_ms
        expires_ms = max(0, time_ms + offset)
        issued_ms = min(time_ms, expires_ms)
        tx = make_request(box, kind, issued_ms, expires_ms)
        before = snapshot(box.state)
        (result,) = box.apply([encode_tx(tx)]).tx_results
        if time_ms > expires_ms or expires_ms - issued_ms > LIFETIME:
            assert not result.is_ok() and snapshot(box.state) == before, result
            if kind in EXPIRY_FIRST:
                expected = "RequestExpired" if time_ms > expires_ms else "ExpiryTooFar"
                assert result.code == expected, result
                assert f"expires_ms={expires_ms}" in result.detail
        else:
            assert result.code not in ("RequestExpired", "ExpiryTooFar"), result
        assert not result.is_ok() or time_ms <= expires_ms


lifetimes = st.integers(-2_000, LIFETIME + 2_000) | st.sampled_from(
    [-1, 0, LIFETIME, LIFETIME + 1, 2 * LIFETIME]
)
issues = st.integers(-LIFETIME - 2_000, 3 * AHEAD) | st.sampled_from([0, AHEAD, AHEAD + 1])
advances = st.integers(1, 3 * AHEAD) | st.sampled_from([AHEAD, LIFETIME])
# (kind, issued_at_ms - the block's time, lifetime, the block's advance, forced into it)
attempts = st.tuples(st.sampled_from(KINDS), issues, lifetimes, advances, st.booleans())


@settings(max_examples=40, deadline=None)
@given(st.lists(attempts, min_size=1, max_size=8))
def test_no_request_refused_as_expiry_too_far_is_ever_applied(
    attempts: list[tuple[str, int, int, int, bool]],
) -> None:
    """Over block times and requests of any times: once refused ``ExpiryTooFar`` (at
    admission or in a block), the same signed bytes, sent again at every later block on
    either path (admitted by the mempool's check at the block's time, then in the block;
    or forced into the block by its proposer), are refused so again (a block may name a
    rule it checks first: an unknown auction) and never applied.
    Every bytes a block refused, whatever the reason, are sent again too: a block's
    refusal is final, so none of them applies either."""
    box = funded_box()
    kinds: dict[bytes, str] = {}
    too_far: set[bytes] = set()
    refused_in_a_block: set[bytes] = set()
    for kind, issue, lifetime, advance, forced in attempts:
        box.block_interval_ms = advance
        time_ms = box.next_context().time_ms
        issued_ms = max(0, time_ms + issue)
        raw = encode_tx(make_request(box, kind, issued_ms, max(0, issued_ms + lifetime)))
        kinds[raw] = kind
        sent = [raw, *sorted(too_far | refused_in_a_block)]
        included = sent if forced else [r for r in sent if is_admitted(box, r, time_ms, too_far)]
        for tx, result in zip(included, box.apply(included).tx_results, strict=True):
            if tx in too_far or tx in refused_in_a_block:
                assert not applied(kinds[tx], result), result
            if tx in too_far and kinds[tx] in EXPIRY_FIRST:
                assert result.code == "ExpiryTooFar", result
            if result.code == "ExpiryTooFar":
                too_far.add(tx)
            if not result.is_ok():
                refused_in_a_block.add(tx)


def is_admitted(box: Sandbox, raw: bytes, time_ms: int, too_far: set[bytes]) -> bool:
    """The mempool's check at the block's time (node/txcheck.py); a refusal as too far is
    noted, and must be the refusal of bytes refused so before."""
    try:
        admit_transaction(box.state, decode_tx(raw), raw, time_ms)
    except ExpiryTooFar:
        too_far.add(raw)
        return False
    except (InvalidTransaction, DecodeError) as refused:
        assert raw not in too_far, refused
        return False
    return True
