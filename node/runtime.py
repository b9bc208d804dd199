"""The node process: one nursery owning p2p, the consensus driver, mempool gossip and sync.

`serve_node` wires a running p2p host to a driver (used in-process by tests
and by `run_node`); `run_node(config)` builds everything from a node home and
runs until cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from consensus.codec import DecodeError as ConsensusDecodeError
from consensus.sync import SyncRejected
from consensus.types import Block, CommitCertificate
from node.blocksync import SyncApplyError, SyncedBlock, serve_blocks, sync_to_tip
from node.driver import Driver
from node.p2p import P2PNode
from node.p2p.topics import CONSENSUS, TX, feed_driver

log = logging.getLogger(__name__)


def get_synced_block(driver: Driver, height: int) -> SyncedBlock | None:
    found = driver.store.get_block(height)
    if found is None:
        return None
    block, certificate = found
    return SyncedBlock(height, block.encode(), certificate.encode())


async def catch_up(p2p: P2PNode, driver: Driver) -> int:
    """Block-syncs from connected peers until none has more; returns blocks applied."""

    async def fetch(next_height: int, apply: Callable[[Block, CommitCertificate], None]) -> None:
        async def apply_synced(synced: SyncedBlock) -> None:
            try:
                apply(Block.decode(synced.block), CommitCertificate.decode(synced.certificate))
            except (ConsensusDecodeError, SyncRejected) as exc:
                raise SyncApplyError(str(exc)) from exc
            await trio.sleep(0)

        await sync_to_tip(p2p, p2p.connected_peers(), next_height, apply_synced)

    return await driver.sync_blocks(fetch)


async def serve_node(
    p2p: P2PNode,
    driver: Driver,
    add_tx: Callable[[bytes], None],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Runs consensus over `p2p` until cancelled: gossip in, sync served and used when behind."""
    behind = trio.Event()

    def on_behind(height: int) -> None:
        behind.set()

    driver.on_behind = on_behind
    serve_blocks(p2p, lambda h: get_synced_block(driver, h), driver.store.get_height)

    async def receive_txs() -> None:
        async for delivery in p2p.messages(TX):
            assert isinstance(delivery.value, bytes)
            add_tx(delivery.value)

    async def keep_up() -> None:
        nonlocal behind
        while True:
            await behind.wait()
            behind = trio.Event()
            await catch_up(p2p, driver)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed_driver, p2p, driver)
        nursery.start_soon(receive_txs)
        await catch_up(p2p, driver)
        await nursery.start(driver.run)
        nursery.start_soon(keep_up)
        task_status.started()


__all__ = ["CONSENSUS", "catch_up", "serve_node"]
