"""Mempool: dedup, per-sender order, caps, eviction, re-check; and the clearing check."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.errors import BadSignature, ClearingError, NonceReused, UnknownVenue
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearing.tx_kind import Admission
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from devnet.sandbox import Sandbox
from node.api.errors import api_error_from
from node.mempool import (
    CheckFailed,
    DuplicateTx,
    Mempool,
    MempoolFull,
    NonceTaken,
    TxRejected,
    TxTooLarge,
    compute_tx_hash,
)
from node.txcheck import make_clearing_check
from records.codec import DecodeError

ROOT = Path(__file__).resolve().parents[2]
GENESIS = json.loads((ROOT / "configs" / "genesis.example.json").read_text())


@dataclass(eq=False)
class InvalidToy(ClearingError):
    tx: bytes


def toy_check(invalid: set[bytes] | None = None):  # type: ignore[no-untyped-def]
    """Toy txs are b'sender|nonce|priority|padding'."""
    bad = invalid if invalid is not None else set()

    def check(tx: bytes) -> Admission:
        if tx in bad or tx.count(b"|") < 2:
            raise InvalidToy(tx)
        sender, nonce, priority = tx.split(b"|")[:3]
        return Admission(sender, int(nonce), int(priority))

    return check


def tx(sender: str, nonce: int, priority: int = 0, pad: int = 0) -> bytes:
    return f"{sender}|{nonce}|{priority}|".encode() + b"x" * pad


def test_dedup_and_nonce_conflicts_change_nothing() -> None:
    pool = Mempool(toy_check())
    h = pool.add(tx("a", 0))
    assert h == compute_tx_hash(tx("a", 0)) and h in pool
    with pytest.raises(DuplicateTx):
        pool.add(tx("a", 0))
    with pytest.raises(NonceTaken):
        pool.add(tx("a", 0, pad=1))
    with pytest.raises(TxRejected) as info:
        pool.add(b"garbage")
    assert isinstance(info.value.cause, InvalidToy)
    assert len(pool) == 1 and pool.size_bytes == len(tx("a", 0))


def test_a_check_that_crashes_refuses_the_tx_as_a_bug_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def crashing(tx: bytes) -> Admission:
        return {}[tx]  # type: ignore[return-value]

    pool = Mempool(crashing)
    with pytest.raises(CheckFailed) as info:
        pool.add(tx("a", 0))
    assert isinstance(info.value.cause, KeyError)
    assert not isinstance(info.value, TxRejected)  # not passed off as the sender's fault
    assert len(pool) == 0
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "bug in the check" in record.getMessage() and record.exc_info is not None
    error = api_error_from(info.value)
    assert (error.status, error.type) == (500, "CheckFailed")


def test_a_recheck_that_crashes_drops_the_tx_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    crash: set[bytes] = set()
    inner = toy_check()

    def check(t: bytes) -> Admission:
        if t in crash:
            raise ZeroDivisionError
        return inner(t)

    pool = Mempool(check)
    pool.add(tx("a", 0))
    pool.add(tx("b", 0))
    crash.add(tx("b", 0))
    assert pool.update([]) == [compute_tx_hash(tx("b", 0))]
    assert pool.reap(10_000) == [tx("a", 0)]
    assert any("bug in the re-check" in r.getMessage() for r in caplog.records)


def test_oversized_tx_is_refused() -> None:
    pool = Mempool(toy_check(), max_tx_bytes=20)
    with pytest.raises(TxTooLarge) as info:
        pool.add(tx("a", 0, pad=30))
    assert info.value.limit == 20 and len(pool) == 0


def test_reap_orders_by_priority_then_age_and_nonce_within_sender() -> None:
    pool = Mempool(toy_check())
    for t in (tx("a", 2), tx("b", 0), tx("a", 1), tx("c", 5, priority=3), tx("a", 0)):
        pool.add(t)
    assert pool.reap(max_bytes=10_000) == [
        tx("c", 5, priority=3), tx("b", 0), tx("a", 0), tx("a", 1), tx("a", 2),
    ]  # fmt: skip
    assert pool.reap(max_bytes=10_000, max_txs=2) == [tx("c", 5, priority=3), tx("b", 0)]
    assert len(pool) == 5


def test_reap_respects_bytes_without_letting_later_nonces_overtake() -> None:
    pool = Mempool(toy_check())
    pool.add(tx("a", 0, pad=100))
    pool.add(tx("a", 1))
    pool.add(tx("b", 0))
    assert pool.reap(max_bytes=50) == [tx("b", 0)]


def test_count_cap_evicts_lowest_priority_then_oldest_sender_tail() -> None:
    pool = Mempool(toy_check(), max_txs=3)
    pool.add(tx("a", 0))
    pool.add(tx("a", 1))
    pool.add(tx("b", 0, priority=1))
    pool.add(tx("c", 0, priority=2))  # evicts a|1, the tail of the lowest sender
    assert sorted(pool.reap(10_000)) == sorted([tx("a", 0), tx("b", 0, 1), tx("c", 0, 2)])
    with pytest.raises(MempoolFull):
        pool.add(tx("d", 0, priority=0))  # ranks no higher than anything pending
    assert len(pool) == 3


def test_byte_cap_evicts_enough_or_refuses() -> None:
    pool = Mempool(toy_check(), max_bytes=100, max_tx_bytes=100)
    pool.add(tx("a", 0, pad=40))
    pool.add(tx("b", 0, pad=40))
    pool.add(tx("c", 0, priority=1, pad=80))  # needs both out
    assert pool.reap(10_000) == [tx("c", 0, priority=1, pad=80)]
    assert pool.size_bytes == len(tx("c", 0, priority=1, pad=80))


def test_update_drops_included_and_now_invalid() -> None:
    invalid: set[bytes] = set()
    pool = Mempool(toy_check(invalid))
    for t in (tx("a", 0), tx("a", 1), tx("b", 0)):
        pool.add(t)
    invalid.add(tx("b", 0))
    dropped = pool.update([tx("a", 0), tx("zz", 9)])
    assert dropped == [compute_tx_hash(tx("b", 0))]
    assert pool.reap(10_000) == [tx("a", 1)]


@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 5), st.integers(0, 3), st.integers(0, 40)),
        max_size=40,
    )
)
def test_caps_and_sender_prefix_hold_under_any_sequence(
    ops: list[tuple[str, int, int, int]],
) -> None:
    pool = Mempool(toy_check(), max_txs=6, max_bytes=200, max_tx_bytes=60)
    added: dict[str, list[int]] = {}
    for sender, nonce, priority, pad in ops:
        try:
            pool.add(tx(sender, nonce, priority, pad))
            added.setdefault(sender, []).append(nonce)
        except (DuplicateTx, NonceTaken, MempoolFull, TxTooLarge):
            pass
        assert len(pool) <= 6 and pool.size_bytes <= 200
    reaped = pool.reap(10_000)
    assert len(reaped) == len(pool)
    for sender in "abc":
        nonces = [int(t.split(b"|")[1]) for t in reaped if t.startswith(sender.encode())]
        assert nonces == sorted(nonces)


# The clearing check on a real ledger state.

VENUE_KEY = derive_ed25519_key("venue-alpha")
ALICE, BOB = derive_member_key("alice"), derive_member_key("bob")


def sandbox() -> Sandbox:
    return Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))


def batch(box: Sandbox, batch_id: int, trade_id: int, chain_id: int | None = None) -> bytes:
    trade = Trade(trade_id, "BTC-PERP", ALICE.address, 0, BOB.address, 0, 60_000_000, 1)
    chain = box.chain_id if chain_id is None else chain_id
    return encode_tx(
        sign_trade_batch(VENUE_KEY, chain, "alpha", batch_id, (trade,), *box.get_times())
    )


def test_clearing_check_orders_venues_and_members_and_rejects_bad_input() -> None:
    box = sandbox()
    pool = Mempool(make_clearing_check(lambda: box.state))
    pool.add(batch(box, 7, 1))
    authorise = box.authorise(ALICE, "alpha")
    pool.add(encode_tx(authorise))
    assert pool.reap(1 << 20) == [encode_tx(authorise), batch(box, 7, 1)]
    for raw, error in (
        (b"\x93\x01", DecodeError),
        (batch(box, 8, 2, chain_id=box.chain_id + 1), BadSignature),
        (encode_tx(replace(authorise, nonce=99)), BadSignature),
        (encode_tx(replace(authorise, venue_id="nope")), BadSignature),
    ):
        with pytest.raises(TxRejected) as info:
            pool.add(raw)
        assert isinstance(info.value.cause, error)
    assert len(pool) == 2


def test_clearing_recheck_drops_replays_after_a_block() -> None:
    box = sandbox()
    pool = Mempool(make_clearing_check(lambda: box.state))
    authorise = box.authorise(ALICE, "alpha")
    pool.add(encode_tx(authorise))
    box.apply([authorise])
    # a second, different encoding of the same nonce would now be a replay
    again = box.authorise(ALICE, "alpha")
    stale = replace(again, nonce=authorise.nonce)
    with pytest.raises(TxRejected) as info:
        pool.add(encode_tx(stale))
    assert isinstance(info.value.cause, NonceReused | BadSignature)
    assert pool.update([]) == [compute_tx_hash(encode_tx(authorise))]
    assert len(pool) == 0


def test_a_batch_whose_trades_were_all_rejected_is_not_committed_twice() -> None:
    """The block's rejection spent its trade ids, so the check itself refuses a copy
    arriving late (409 at the API)."""
    box = sandbox()
    pool = Mempool(make_clearing_check(lambda: box.state))
    stranger = derive_member_key("never-authorised")
    trade = Trade(7, "BTC-PERP", stranger.address, 0, BOB.address, 0, 60_000_000, 1)
    raw = encode_tx(
        sign_trade_batch(VENUE_KEY, box.chain_id, "alpha", 7, (trade,), *box.get_times())
    )
    pool.add(raw)
    result = box.apply([raw])
    assert [e.kind for e in result.get_events()].count("trade_rejected") == 1
    assert pool.update([raw]) == [] and len(pool) == 0
    with pytest.raises(TxRejected) as info:
        pool.add(raw)
    error = api_error_from(info.value)
    assert (error.status, error.type) == (409, "DuplicateTrade")


def test_unknown_venue_is_rejected() -> None:
    box = sandbox()
    trade = Trade(1, "BTC-PERP", ALICE.address, 0, BOB.address, 0, 60_000_000, 1)
    raw = encode_tx(
        sign_trade_batch(VENUE_KEY, box.chain_id, "ghost", 1, (trade,), *box.get_times())
    )
    with pytest.raises(TxRejected) as info:
        Mempool(make_clearing_check(lambda: box.state)).add(raw)
    assert isinstance(info.value.cause, UnknownVenue)
