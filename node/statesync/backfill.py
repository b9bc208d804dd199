"""Backfill: the blocks below a state-synced node's snapshot, fetched in the background
from the peers that keep them (archive nodes), when `state_sync.backfill` asks for them.

A restored node holds the blocks from its snapshot's height H on (and the older blocks
the snapshot carried). Backfill asks block sync (`/clearnode/blocksync/1`, which every
node serves from its store, on either engine) for the blocks below its first height,
newest batch first, down to what its retention keeps (block 1 on an archive node).
Nothing a peer sends is taken on its word: the block above is held, so each block must
be the one the block above names (its hash is the next header's `prev_block_hash`),
committed by the set the node's state says signed it (`EngineBlocks`: on our engine a
quorum's certificate, on CometBFT the signed header, node/cometbft/committed_block.py);
the state root after each is the one the next header commits to. A peer that sends
anything else is scored down, one that no longer holds the blocks (pruned) asked no more
this round. Each batch is stored in one transaction (`NodeStore.save_backfilled`) and the
node's first height moves down.

Once the blocks reach genesis (an archive node's retention), the members' history below
H is rebuilt by replaying them (node/history/replay.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import trio

from clearing.state import ClearingState
from consensus.types import Block
from lightclient.anchor import AnchorHeader, get_consensus_chain_id
from node.history.replay import HistoryNotRebuilt, rebuild_history
from node.p2p import Offence, P2PNode, RequestFailed
from node.p2p.blocksync import SyncedBlock, fetch_blocks
from node.startup import NodeParts
from node.statesync.fetch import PEER_WAIT_S
from node.statesync.verify import BlockRefused, check_certified
from node.storage import NodeStore, StorageError, StoredBlock
from records.codec import DecodeError

log = logging.getLogger(__name__)

BATCH_BLOCKS = 32
"""Blocks asked for at once (block sync's own batch)."""
ROUND_WAIT_S = 30.0
"""After a round in which no peer held the next batch: archive nodes may connect later."""


CheckCommitted = Callable[[SyncedBlock], AnchorHeader]
"""A peer's block, checked as committed by the set the node's state says signed it: its
header (BlockRefused if not)."""


@dataclass(frozen=True)
class EngineBlocks:
    """How an engine's chain stores a block (node/storage/node_store.py's block and certificate)."""

    read_header: Callable[[StoredBlock], AnchorHeader]
    """The header of a block this node holds."""
    check_committed: Callable[[ClearingState, str, SyncedBlock], AnchorHeader]
    """`CheckCommitted`, given the node's state and its consensus chain id."""


def check_our_block(state: ClearingState, chain: str, synced: SyncedBlock) -> AnchorHeader:
    block = check_certified(synced.height, synced.block, synced.certificate, state, chain)
    return block.header


OUR_BLOCKS = EngineBlocks(lambda held: Block.decode(held.block).header, check_our_block)


def check_backfilled(
    synced: tuple[SyncedBlock, ...], above: AnchorHeader, check: CheckCommitted
) -> list[StoredBlock]:
    """The blocks below `above` (the header of the lowest block held), each the one the
    block above it names and committed (`check`), ready to store with the state root
    after each; BlockRefused at the first that is not."""
    stored = []
    named, root = above.prev_block_hash, above.prev_state_root
    for block_data in reversed(synced):
        height = block_data.height
        header = check(block_data)
        if header.hash != named:
            raise BlockRefused(height, f"it is not the block 0x{named.hex()} the block "
                                       "above names")  # fmt: skip
        stored.append(StoredBlock(height, block_data.block, block_data.certificate, root))
        named, root = header.prev_block_hash, header.prev_state_root
    return stored[::-1]


async def backfill_blocks(
    p2p: P2PNode,
    store: NodeStore,
    get_state: Callable[[], ClearingState],
    chain: str,
    get_floor: Callable[[], int],
    engine: EngineBlocks = OUR_BLOCKS,
) -> None:
    """Fetches and stores the blocks below the store's first height down to `get_floor()`
    (what retention keeps), until done; cancelled with the node."""
    started = store.first_height()
    while (first := store.first_height()) > (floor := get_floor()):
        held = store.load_block(first)
        # dialling; or pruned meanwhile; or on CometBFT its signed header still to come
        if not p2p.connected_peers() or held is None or not held.cert:
            await trio.sleep(PEER_WAIT_S)
            continue
        check = partial(engine.check_committed, get_state(), chain)
        count = min(BATCH_BLOCKS, first - floor)
        blocks = await fetch_batch(p2p, first, count, engine.read_header(held), check)
        if not blocks:
            log.info("backfill: no peer holds block %d (pruned): asking again in %.0f s",
                     first - 1, ROUND_WAIT_S)  # fmt: skip
            await trio.sleep(ROUND_WAIT_S)
            continue
        try:
            await trio.to_thread.run_sync(store.save_backfilled, blocks)
        except StorageError as exc:  # pruning moved the first height meanwhile
            log.info("backfill: %s; asking again from the first height held", exc)
            continue
        if blocks[0].height // 10_000 != first // 10_000:
            log.info("backfill: blocks held from height %d", blocks[0].height)
    if store.first_height() < started:
        log.info("backfill done: blocks held from height %d", store.first_height())


async def fetch_batch(
    p2p: P2PNode, first: int, count: int, above: AnchorHeader, check: CheckCommitted
) -> list[StoredBlock]:
    """Up to `count` blocks right below `first` (whose header is `above`), checked, from
    the first connected peer that holds them; none when no peer does."""
    for peer in p2p.connected_peers():
        asked = count
        while asked:
            try:
                response = await fetch_blocks(p2p, peer, first - asked, asked)
            except (RequestFailed, DecodeError) as exc:
                log.debug("backfill: blocks from %s failed: %s", peer, exc)
                break
            try:
                if len(response.blocks) > asked:
                    raise BlockRefused(first - asked, f"{len(response.blocks)} blocks "
                                          f"sent for {asked} asked")  # fmt: skip
                if len(response.blocks) == asked:
                    return check_backfilled(response.blocks, above, check)
            except BlockRefused as exc:
                log.warning("backfill: %s (from %s)", exc, peer)
                p2p.penalize(peer, Offence.BAD_RESPONSE)
                break
            # none: pruned below its own first height, not an offence; fewer: what fits
            # in one response, so ask for that many, ending at the same block
            asked = len(response.blocks)
    return []


async def backfill_below_snapshot(p2p: P2PNode, node: NodeParts, engine: EngineBlocks) -> None:
    """The blocks below a restored store's snapshot that its retention keeps, then, once
    they reach genesis, the members' history of those its retention keeps."""
    retention = node.config.retention
    chain = get_consensus_chain_id(node.genesis.chain_id, node.genesis_hash)
    await backfill_blocks(
        p2p, node.store, lambda: node.app.state, chain,
        lambda: retention.get_lowest_kept(node.store.latest_height()), engine,
    )  # fmt: skip
    floor = max(1, retention.get_history_below(node.store.latest_height()))
    try:
        await rebuild_history(node.store, node.genesis, floor)
    except HistoryNotRebuilt as exc:
        log.error("%s", exc)
