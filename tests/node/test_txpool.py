"""The recorded mempool: admitted transactions on disk before `add` returns, forgotten at
commit, restored (re-checked) after a restart. Real SQLite files, a real clearing state."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from clearing.transition.tx import encode_tx
from consensus.compact import compute_tx_hash
from devnet.sandbox import Sandbox
from node.mempool import Mempool, TxRejected
from node.storage import SCHEMA_VERSION, NodeStore
from node.txcheck import make_clearing_check
from node.txpool import TxPool
from tests.node.test_api import ALICE, GENESIS, trade_batch


def read_recorded(db: Path) -> list[bytes]:
    """The pending_txs rows as another process sees them (committed data only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT tx FROM pending_txs ORDER BY seq")]
    finally:
        conn.close()


@dataclass
class Node:
    """What a node keeps of its mempool: its store file and the state it restored."""

    box: Sandbox
    db: Path

    def open_pool(self) -> tuple[TxPool, NodeStore]:
        store = NodeStore(self.db)
        return TxPool(Mempool(make_clearing_check(lambda: self.box.state)), store), store


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(Sandbox.from_genesis_doc(copy.deepcopy(GENESIS)), tmp_path / "node.sqlite3")


@pytest.fixture
async def running(node: Node) -> AsyncIterator[TxPool]:
    pool, store = node.open_pool()
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        yield pool
        nursery.cancel_scope.cancel()
    store.close()


async def test_add_returns_once_the_tx_is_committed_to_disk(node: Node, running: TxPool) -> None:
    txs = [trade_batch(node.box, batch_id=i) for i in (1, 2, 3)]
    async with trio.open_nursery() as nursery:  # side by side: one write may hold several
        for tx in txs:
            nursery.start_soon(running.add, tx)
    assert sorted(read_recorded(node.db)) == sorted(txs)
    assert len(running.mempool) == 3


async def test_duplicate_answers_its_hash_once_recorded(node: Node, running: TxPool) -> None:
    tx = trade_batch(node.box)
    hashes: list[bytes] = []

    async def add() -> None:
        hashes.append(await running.add(tx))
        assert read_recorded(node.db) == [tx]

    async with trio.open_nursery() as nursery:
        nursery.start_soon(add)
        nursery.start_soon(add)  # queued before the first write committed
    assert hashes == [compute_tx_hash(tx)] * 2
    assert await running.add(tx) == compute_tx_hash(tx)
    assert read_recorded(node.db) == [tx]


async def test_refused_tx_is_not_recorded(node: Node, running: TxPool) -> None:
    with pytest.raises(TxRejected):
        await running.add(trade_batch(node.box, chain_id=node.box.chain_id + 1))
    await running.add(trade_batch(node.box))  # a write after the refusal
    assert read_recorded(node.db) == [trade_batch(node.box)]


async def test_each_admission_and_no_refusal_is_told(node: Node, running: TxPool) -> None:
    told: list[int] = []
    running.on_added = lambda: told.append(len(running.mempool))
    await running.add(trade_batch(node.box))
    await running.add(trade_batch(node.box))  # already pending
    with pytest.raises(TxRejected):
        await running.add(trade_batch(node.box, chain_id=node.box.chain_id + 1))
    running.add_nowait(trade_batch(node.box, batch_id=2))  # as gossip admits
    assert told == [1, 2]  # each once the mempool holds it


async def test_included_txs_are_forgotten_with_the_mempool_update(
    node: Node, running: TxPool
) -> None:
    first, second = encode_tx(node.box.authorise(ALICE, "alpha")), trade_batch(node.box)
    await running.add(first)
    await running.add(second)
    node.box.apply([first])
    assert running.update([first]) == []
    await running.add(trade_batch(node.box, batch_id=3))  # the next write follows the removal
    assert read_recorded(node.db) == [second, trade_batch(node.box, batch_id=3)]


async def test_restart_reloads_pending_txs_in_admission_order(node: Node) -> None:
    txs = [trade_batch(node.box, batch_id=i) for i in (3, 1, 2)]
    pool, store = node.open_pool()
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        for tx in txs:
            await pool.add(tx)
        nursery.cancel_scope.cancel()
    store.close()  # the process ends: its memory is gone
    restarted, store = node.open_pool()
    with store:
        assert restarted.restore() == txs
        assert sorted(restarted.reap(1 << 20)) == sorted(txs)
        assert read_recorded(node.db) == txs


async def test_restart_drops_txs_committed_while_the_node_was_down(node: Node) -> None:
    committed, pending = encode_tx(node.box.authorise(ALICE, "alpha")), trade_batch(node.box)
    pool, store = node.open_pool()
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        await pool.add(committed)
        await pool.add(pending)
        nursery.cancel_scope.cancel()
    store.close()
    # the restored state includes the block the node missed
    assert [r.code for r in node.box.apply([committed]).tx_results] == ["ok"]
    restarted, store = node.open_pool()
    with store:
        assert restarted.restore() == [pending]
        assert compute_tx_hash(committed) not in restarted.mempool
    assert read_recorded(node.db) == [pending]


def test_restart_drops_recorded_txs_the_state_refuses(node: Node) -> None:
    valid, garbage = trade_batch(node.box), b"\x93not a transaction"
    with NodeStore(node.db) as store:
        store.write_pending_txs([(compute_tx_hash(garbage), garbage), (b"v", valid)])
    restarted, store = node.open_pool()
    with store:
        assert restarted.restore() == [valid]
        assert len(restarted.mempool) == 1
    assert read_recorded(node.db) == [valid]


async def test_crash_between_write_and_answer_keeps_the_tx_and_a_retry_answers_it(
    node: Node,
) -> None:
    """The record is committed, the process dies before the 202 leaves: after the restart
    the transaction is pending, and the client's resubmission answers its hash once."""
    tx = trade_batch(node.box)
    with NodeStore(node.db) as store:  # what `add` commits before it returns
        store.write_pending_txs([(compute_tx_hash(tx), tx)])
    restarted, store = node.open_pool()
    async with trio.open_nursery() as nursery:
        await nursery.start(restarted.run)
        assert restarted.restore() == [tx]
        assert await restarted.add(tx) == compute_tx_hash(tx)
        nursery.cancel_scope.cancel()
    store.close()
    assert read_recorded(node.db) == [tx]


def test_a_version_1_store_gains_the_pending_table(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
        "INSERT INTO meta VALUES ('schema', 1);"
    )
    conn.close()
    with NodeStore(db) as store:
        store.write_pending_txs([(b"h", b"tx")])
        assert store.load_pending_txs() == [b"tx"]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
        SCHEMA_VERSION,
    )
    conn.close()


async def test_a_block_forgets_what_it_includes_in_its_own_transaction(
    node: Node, running: TxPool
) -> None:
    """A crash right after the block is stored, before the pool's own removal is written:
    the restarted node does not propose the included transaction again."""
    included, pending = encode_tx(node.box.authorise(ALICE, "alpha")), trade_batch(node.box)
    await running.add(included)
    await running.add(pending)
    hashes = [compute_tx_hash(included)]
    running.store.save_block(1, b"block", b"cert", b"\x11" * 32, included=hashes)
    assert read_recorded(node.db) == [pending]
