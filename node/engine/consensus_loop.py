"""Our engine over the p2p host: consensus messages and transactions from gossip into the
driver, blocks, transactions, proposals and commits served to peers, and the sync loop.

The sync loop block-syncs (`node/p2p/blocksync.py`) before consensus starts, and again
whenever the node is behind: far behind (a message from beyond the heights the engine
buffers: the driver's `on_behind`), or a height behind peers that moved on
(`consensus.sync.BehindWatch`, asked by `SyncLoop.watch_peers`: once peers committed a
height, nobody sends its votes again). Consensus pauses while it catches up.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import trio

from consensus.messages import Message
from consensus.sync import BehindWatch, SyncRejected
from consensus.types import Block, CommitCertificate
from node.clock import wall_clock_ms
from node.engine.driver import GOSSIP_PEER, Driver
from node.engine.repair_fetch import fetch_commit, fetch_proposal, serve_repairs
from node.p2p import P2PNode
from node.p2p.blocksync import SyncApplyError, SyncedBlock, serve_blocks, sync_to_tip
from node.p2p.topics import CONSENSUS
from node.p2p.txfetch import fetch_txs, serve_txs
from node.startup.tx_gossip import receive_txs
from records.codec import DecodeError

log = logging.getLogger(__name__)

BEHIND_PATIENCE_REGOSSIPS = 2
"""Re-gossip intervals a node waits a height behind its peers before it block-syncs that
height: peers re-send a height's messages each interval only while they are still at it,
so once they moved on, no vote this node lacks will come again."""


async def run_consensus(
    p2p: P2PNode,
    driver: Driver,
    add_tx: Callable[[bytes], None],
    get_synced: Callable[[int], SyncedBlock | None],
    *,
    on_peer_height: Callable[[int], None] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Runs consensus over `p2p` until cancelled, started once the node caught up: gossip
    in (`add_tx` admits a gossiped transaction), blocks (`get_synced`) and transactions
    served, the sync loop. `on_peer_height` hears the height of each consensus message."""
    sync = SyncLoop(p2p, driver, on_peer_height)
    driver.on_behind = sync.on_behind
    serve_blocks(p2p, get_synced, driver.store.get_height)
    serve_txs(p2p, driver.engine.get_tx)
    serve_repairs(p2p, driver.engine.get_proposal_message, driver.engine.get_commit)

    async def fetch(peer: str, tx_ids: tuple[bytes, ...]) -> list[bytes]:
        return await fetch_txs(p2p, [peer, *p2p.connected_peers()], tx_ids)

    driver.fetch_txs = fetch
    driver.fetch_proposal = functools.partial(fetch_proposal, p2p)
    driver.fetch_commit = functools.partial(fetch_commit, p2p)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed_driver, p2p, driver, sync.observe_peer_height)
        nursery.start_soon(receive_txs, p2p, functools.partial(admit_and_offer, driver, add_tx))
        log.info("catching up from height %d", driver.store.get_height())
        await catch_up(p2p, driver)
        log.info("starting consensus at height %d", driver.store.get_height() + 1)
        await nursery.start(driver.run)
        nursery.start_soon(sync.keep_up)
        nursery.start_soon(sync.watch_peers)
        task_status.started()


def admit_and_offer(driver: Driver, add_tx: Callable[[bytes], None], tx: bytes) -> None:
    """A gossiped transaction into the mempool, and to a compact proposal waiting for it."""
    add_tx(tx)
    driver.offer_tx(tx)


class SyncLoop:
    """When the node is behind, and catching up then."""

    def __init__(
        self, p2p: P2PNode, driver: Driver, on_peer_height: Callable[[int], None] | None
    ) -> None:
        self.p2p, self.driver, self.on_peer_height = p2p, driver, on_peer_height
        self.behind = trio.Event()
        self.watch = BehindWatch(BEHIND_PATIENCE_REGOSSIPS * round(driver.config.regossip_s * 1000))

    def on_behind(self, height: int) -> None:
        """The driver's: a message from far ahead."""
        self.behind.set()

    def observe_peer_height(self, height: int) -> None:
        self.watch.observe(GOSSIP_PEER, height)
        if self.on_peer_height is not None:
            self.on_peer_height(height)

    async def keep_up(self) -> None:
        """Catches up each time the node is found behind."""
        while True:
            await self.behind.wait()
            self.behind = trio.Event()
            await catch_up(self.p2p, self.driver)

    async def watch_peers(self) -> None:
        """Looks twice per patience whether a peer committed a height this node lacks."""
        store = self.driver.store
        committed = store.get_height()
        while True:
            await trio.sleep(self.watch.patience_ms / 2000)
            height = store.get_height()
            if height != committed:
                committed = height
                self.watch.record_commit()
            ahead = self.watch.get_peer_to_sync(height, wall_clock_ms())
            if ahead is not None and not self.driver.syncing:
                self.behind.set()


async def catch_up(p2p: P2PNode, driver: Driver) -> int:
    """Block-syncs from connected peers until none has more; returns blocks applied."""

    async def fetch(next_height: int, apply: Callable[[Block, CommitCertificate], None]) -> None:
        async def apply_synced(synced: SyncedBlock) -> None:
            if synced.height <= driver.store.get_height():
                # Committed here meanwhile (consensus moved while the answer was on its
                # way): a race of two honest paths, not a bad answer from the peer.
                return
            try:
                apply(Block.decode(synced.block), CommitCertificate.decode(synced.certificate))
            except (DecodeError, SyncRejected) as exc:
                raise SyncApplyError(str(exc)) from exc
            await trio.sleep(0)

        await sync_to_tip(p2p, p2p.connected_peers(), next_height, apply_synced)

    return await driver.sync_blocks(fetch)


async def feed_driver(
    p2p: P2PNode, driver: Driver, on_height: Callable[[int], None] | None = None
) -> None:
    """Hands validated consensus messages from peers to the driver; `on_height` learns the
    height each message is for (how far the peers are)."""
    async for delivery in p2p.messages(CONSENSUS):
        assert isinstance(delivery.value, Message)
        if on_height is not None:
            on_height(delivery.value.height)
        driver.deliver(delivery.value, delivery.sender)
