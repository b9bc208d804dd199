"""A node's transactions on either engine: its pool (the mempool, each admission recorded
on disk before anyone is told: node/txpool.py) and the `tx` topic that carries each one
admitted to the other validators, where their pools admit it in turn. Our engine's
proposer reaps its pool, as CometBFT's does through PrepareProposal (CometBFT runs with
no mempool of its own: node/cometbft/home.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from consensus.compact import compute_tx_hash
from node.clock import wall_clock_ms
from node.mempool import Mempool, MempoolError
from node.p2p import P2PNode
from node.p2p.topics import TX
from node.startup.steps import NodeParts
from node.txcheck import make_clearing_check
from node.txpool import TxPool
from node.worktime import TX_CHECK, TX_RECHECK

log = logging.getLogger(__name__)


def build_tx_pool(node: NodeParts) -> TxPool:
    """The mempool with its durable record; `TxPool.restore` then admits the recorded ones
    again."""
    config = node.config
    check = make_clearing_check(lambda: node.app.state, wall_clock_ms)
    mempool = Mempool(
        node.work.timed(TX_CHECK, check),
        recheck=node.work.timed(TX_RECHECK, check),
        max_txs=config.mempool.max_txs,
        max_bytes=config.mempool.max_bytes,
        max_tx_bytes=config.mempool.max_tx_bytes,
    )
    return TxPool(mempool, node.store)


async def admit_tx(
    pool: TxPool, publish_tx: Callable[[bytes], Awaitable[None]], raw: bytes
) -> None:
    """A service's transaction into the mempool (recorded on disk), then gossiped."""
    await pool.add(raw)
    await publish_tx(raw)


def add_to_mempool(pool: TxPool) -> Callable[[bytes], None]:
    """Admits a gossiped transaction; a refusal is the sender's or a copy's, not news."""

    def add(tx: bytes) -> None:
        try:
            pool.add_nowait(tx)
        except MempoolError as exc:
            log.debug("gossiped tx refused: %s", exc)

    return add


async def receive_txs(p2p: P2PNode, add_tx: Callable[[bytes], None]) -> None:
    """Gossiped transactions into the mempool, until cancelled."""
    async for delivery in p2p.messages(TX):
        assert isinstance(delivery.value, bytes)
        add_tx(delivery.value)


async def regossip(p2p: P2PNode, pool: TxPool, txs: list[bytes]) -> None:
    """Gossips the transactions restored at start-up once a peer hears the topic: this node
    may have died before its gossip of them left."""
    await p2p.wait_for_mesh(TX, 1)
    for tx in txs:
        if compute_tx_hash(tx) in pool.mempool:
            await p2p.publish(TX, tx)
