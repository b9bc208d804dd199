"""The protocol table keeps its promise: the largest batch a venue may send is a
transaction every node admits, and it fits a block beside the proposer's own txs."""

from __future__ import annotations

import pytest

from clearing.collateral import MAX_SUB_ACCOUNT
from clearing.limits import (
    MAX_BLOCK_BYTES,
    MAX_BLOCK_TXS,
    MAX_PROPOSER_TXS_BYTES,
    MAX_TRADES_PER_BATCH,
    MAX_TX_BYTES,
)
from clearing.transition.trade import Trade, TradeBatch
from clearing.transition.tx import decode_tx, encode_tx
from clearing.units import MAX_UINT64
from records.codec import DecodeError

LONGEST_NAME = "\U0001f600" * 64  # 64 chars (the string cap), 4 UTF-8 bytes each


def build_largest_batch(trades: int) -> TradeBatch:
    """Every field at its largest encoding."""
    trade = Trade(
        MAX_UINT64, LONGEST_NAME, b"\xff" * 20, MAX_SUB_ACCOUNT, b"\xfe" * 20, MAX_SUB_ACCOUNT,
        MAX_UINT64, MAX_UINT64,
    )  # fmt: skip
    return TradeBatch(
        LONGEST_NAME, MAX_UINT64, MAX_UINT64, MAX_UINT64, (trade,) * trades, b"\xfd" * 64
    )


def test_largest_batch_is_an_admitted_transaction() -> None:
    raw = encode_tx(build_largest_batch(MAX_TRADES_PER_BATCH))
    assert len(raw) <= MAX_TX_BYTES
    assert len(decode_tx(raw).trades) == MAX_TRADES_PER_BATCH  # type: ignore[union-attr]


def test_one_trade_more_is_refused_by_count() -> None:
    with pytest.raises(DecodeError, match=f"outside \\[1, {MAX_TRADES_PER_BATCH}\\]"):
        decode_tx(encode_tx(build_largest_batch(MAX_TRADES_PER_BATCH + 1)))


def test_a_transaction_over_the_cap_is_refused_naming_it() -> None:
    with pytest.raises(DecodeError, match=f"{MAX_TX_BYTES + 1} bytes exceeds {MAX_TX_BYTES}"):
        decode_tx(b"\x00" * (MAX_TX_BYTES + 1))


def test_largest_transaction_fits_a_block_beside_the_proposers_own() -> None:
    assert MAX_TX_BYTES + MAX_PROPOSER_TXS_BYTES <= MAX_BLOCK_BYTES
    assert MAX_PROPOSER_TXS_BYTES > 0
    assert MAX_BLOCK_TXS >= 2
