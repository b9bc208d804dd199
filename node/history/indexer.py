"""From a committed block's result to its history rows, and the start-up catch-up of a
store whose history is behind its blocks (a store written before the history existed).

An event names a member in its `member` or `counterparty` field; each member's row holds
its own side only (`get_own_event`). Fills, rejected trades, funding, variation margin,
fees, deposits, withdrawals and transfers are in the transactions' results; margin calls,
conversions, liquidations, auctions, assessments, default-fund contributions and
settlements are end-of-block events: both are indexed, in block order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

from clearing.default.house import HOUSE
from clearing.events import Event
from clearing.genesis import Genesis
from clearing.transition.block import BlockResult, TxResult
from clearing.transition.trade import TradeBatch
from clearing.transition.tx import decode_tx
from consensus.compact import compute_tx_hash
from node.clearing_app import ClearingApp
from node.committed import decode_stored_block
from node.storage import NodeStore, StorageError, StoredBlock
from node.storage.history_store import BlockHistory, HistoryRow
from node.storage.outcomes import get_tx_outcomes

log = logging.getLogger(__name__)

PARTIES = (("member", "sub_account"), ("counterparty", "counterparty_sub_account"))
"""The event fields that name a party to what happened, with its sub-account (a
`recipient` or a `token` is an address too, but not of a member the event is about)."""
CATCH_UP_BATCH = 256
"""Blocks of history written per transaction while catching up."""


def get_named_members(event: Event) -> set[bytes]:
    names = {name for name, _ in PARTIES}
    return {v for k, v in event.data if k in names and isinstance(v, bytes) and v}


def get_own_event(event: Event, member: bytes) -> Event:
    """`event` as `member` may read it: without the other party's address and sub-account,
    unless that party is the clearing house. A member learns what happened to its own
    account, not whose account was on the other side (the defaulter does not learn who
    was deleveraged or assessed, the backstop whose lots it took)."""
    data = dict(event.data)
    hidden: set[str] = set()
    for address, sub_account in PARTIES:
        other = data.get(address)
        if isinstance(other, bytes) and other not in (member, HOUSE[0]):
            hidden |= {address, sub_account}
    return Event(event.kind, tuple((k, v) for k, v in event.data if k not in hidden))


def get_fills(raw: bytes, result: TxResult) -> list[tuple[bytes, Event]]:
    """A committed trade batch's cleared trades, one `fill` per side, each with the member
    it is for (the only party it names: the member's own event as it is). Clearing emits
    no event per trade (only the batch's counts and each rejected trade), so a member's
    fills are read from the batch itself, less the trades its result rejected."""
    if not result.is_ok():
        return []
    batch = result.record if result.record is not None else decode_tx(raw)
    if not isinstance(batch, TradeBatch):
        return []
    rejected = {e.get("trade_id") for e in result.events if e.kind == "trade_rejected"}
    venue = batch.venue_id
    return [
        (member, make_fill(member, sub_account, side, venue, t.trade_id, t.instrument_id,
                           t.quantity, t.price))
        for t in batch.trades if t.trade_id not in rejected
        for member, sub_account, side in ((t.buyer, t.buyer_sub_account, "buy"),
                                          (t.seller, t.seller_sub_account, "sell"))
    ]  # fmt: skip


def make_fill(
    member: bytes, sub_account: int, side: str, venue: str, trade_id: int, instrument: str,
    quantity: int, price: int,
) -> Event:  # fmt: skip
    """`make_event("fill", ...)` of these fields, its pairs written in their sorted order
    (two per cleared trade on every node: the hot path of the history)."""
    return Event("fill", (("instrument", instrument), ("member", member), ("price", price),
                          ("quantity", quantity), ("side", side), ("sub_account", sub_account),
                          ("trade_id", trade_id), ("venue", venue)))  # fmt: skip


def get_block_history(txs: Sequence[bytes], result: BlockResult) -> BlockHistory:
    """One row per (event, member it names), numbered in block order: each transaction's
    fills and events, then the end-of-block events; and each transaction's outcome."""
    height = result.height
    rows: list[HistoryRow] = []
    seq = 0

    def add_named(source: str, index: int, event: Event) -> None:
        for member in sorted(get_named_members(event)):
            rows.append(
                HistoryRow(member, height, seq, source, index, get_own_event(event, member))
            )

    for index, (raw, r) in enumerate(zip(txs, result.tx_results, strict=True)):
        for member, fill in get_fills(raw, r):
            rows.append(HistoryRow(member, height, seq, "tx", index, fill))
            seq += 1
        for event in r.events:
            add_named("tx", index, event)
            seq += 1
    for event in result.events:
        add_named("block", -1, event)
        seq += 1
    hashes = [compute_tx_hash(raw) for raw in txs]
    outcomes = get_tx_outcomes(height, hashes, result.tx_results)
    return BlockHistory(height, rows, outcomes)


def get_last_block_history(app: ClearingApp, height: int, txs: Sequence[bytes]) -> BlockHistory:
    """The history of the block at `height` (its transactions `txs`), which `app` has just
    applied (a block is saved right after the app applied it)."""
    result = app.last_result
    if result is None or result.height != height:
        applied = None if result is None else result.height
        raise StorageError(f"block {height} is saved, but the app last applied {applied}")
    return get_block_history(txs, result)


def catch_up_history(store: NodeStore, genesis: Genesis) -> int:
    """Writes the history of the stored blocks the history has not reached, by applying
    them again from genesis to a separate app (the rows need each block's results, which
    only applying gives); returns how many blocks were indexed."""
    start, latest = store.history_height(), store.latest_height()
    if start >= latest:
        return 0
    if store.first_height() > 1:
        raise StorageError(
            f"{store.path}: the history reaches block {start} and the blocks to {latest} are "
            f"stored, but blocks below {store.first_height()} were pruned, and indexing "
            "re-applies every block from genesis: restore the data directory from a backup"
        )
    log.info("history is at height %d, blocks at %d: indexing the stored blocks", start, latest)
    blocks = store.iter_blocks(after=0, up_to=latest)
    for batch in replay_history(genesis, blocks, start + 1):
        store.save_history(batch)
    return latest - start


def replay_history(
    genesis: Genesis, blocks: Iterable[StoredBlock], write_from: int
) -> Iterator[list[BlockHistory]]:
    """The history of `blocks` (every block from 1 on, in order) from height `write_from`
    on, CATCH_UP_BATCH blocks at a time, by applying them from genesis to an app of its
    own; StorageError at a block that gives another state root than the one stored."""
    app = ClearingApp(genesis)
    batch: list[BlockHistory] = []
    for stored in blocks:
        block = decode_stored_block(genesis.engine, stored)
        result = app.apply_block(block.get_context(genesis.chain_id), block.txs)
        if result.state_root != stored.state_root:
            raise StorageError(
                f"block {stored.height} gives a different state root again; its history "
                "cannot be derived"
            )
        if stored.height >= write_from:
            batch.append(get_block_history(block.txs, result))
        if len(batch) == CATCH_UP_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
