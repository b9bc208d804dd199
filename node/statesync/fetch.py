"""State sync on our engine: a node started with `[state_sync] enabled` and an empty store
takes its peers' newest trusted snapshot instead of every block since genesis.

Before the node itself starts (node/engine/runtime.py), a p2p host of the node's key and port
asks each connected peer for its offer (node/statesync/serve.py), checks the highest one
from the genesis (verify.py), fetches the snapshot in chunks from the peers offering
it, checks the bytes, fetches the older blocks a pruned node keeps that a snapshot
brings (node/retention.py:get_carried_heights: the block of each change of the validator
set, each the one the light-client walk went through, and the first block of each of the
newest report epochs, each with a certificate of the set the restored state says signed
it), and stores all of it in one transaction (`NodeStore.save_restored`). The host then
closes and the node starts from the state it checked (node/restore.py), block-syncing
the rest. The other blocks and the history before the snapshot are not brought: the node
says so (410 naming its first heights) and serves what it holds.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

import trio

from clearing.genesis import Genesis
from clearing.state import ClearingState
from consensus.types import Block
from lightclient.anchor import Trust, TrustExpired, check_trusting_period, get_consensus_chain_id
from lightclient.commit import CommitCertificate
from node.clearing_app import ClearingApp
from node.clock import wall_clock_ms
from node.config import NodeConfig
from node.genesis_file import load_genesis, read_genesis_hash
from node.p2p import Offence, P2PNode, RequestFailed, open_p2p
from node.p2p.allowed_peers import get_allowed_peers, get_peer_validators
from node.p2p.blocksync import SyncedBlock, fetch_blocks
from node.retention import get_carried_heights
from node.startup import get_host_config
from node.statesync.records import (
    CHUNK_BYTES,
    CHUNK_PROTOCOL,
    MAX_CHUNK_RESPONSE_BYTES,
    MAX_OFFER_BYTES,
    MAX_REQUEST_BYTES,
    OFFER_PROTOCOL,
    ChunkRequest,
    OfferRequest,
    SnapshotChunk,
    SnapshotOffer,
)
from node.statesync.verify import (
    BlockRefused,
    OfferBeforeCheckpoint,
    OfferRefused,
    SnapshotRefused,
    StateSyncError,
    TrustedOffer,
    check_certified,
    check_offer,
    check_snapshot,
)
from node.storage import NodeStore, Snapshot, StoredBlock
from records.codec import DecodeError

log = logging.getLogger(__name__)

ROUND_WAIT_S = 2.0
"""Between two rounds of asking the peers, while none has offered a usable snapshot."""
PEER_WAIT_S = 0.1
"""Between two looks for a first connected peer (the host dials its persistent peers as
it opens; each is admitted after its genesis handshake)."""


class StartNotTrusted(StateSyncError):
    """The point the walk starts from is older than the trusting period."""

    def __init__(self, cause: TrustExpired) -> None:
        super().__init__(
            f"state sync cannot trust a snapshot: {cause}; set state_sync.checkpoint to a "
            "recent block you trust (HEIGHT:TIME_MS:0xHASH, `clearnode status` of a node "
            "you run prints one)"
        )


def get_start_trust(config: NodeConfig, genesis: Genesis) -> Trust:
    """Where the walk that trusts a snapshot starts (the genesis's set, or
    `state_sync.checkpoint`), now; StartNotTrusted if past the trusting period. On either
    engine, before the node starts."""
    trust = Trust(wall_clock_ms(), genesis.genesis_time_ms, config.state_sync.checkpoint)
    try:
        check_trusting_period(trust)
    except TrustExpired as exc:
        raise StartNotTrusted(exc) from None
    return trust


@dataclass(frozen=True)
class Restored:
    height: int
    snapshot_bytes: int
    peers: int
    state: ClearingState
    """The snapshot's state, checked: the node starts from it (node/restore.py)."""


async def sync_state(config: NodeConfig) -> Restored | None:
    """Restores the node's empty store from its peers' newest trusted snapshot (None when
    the store already holds blocks: the node restarts from them as usual)."""
    genesis, genesis_hash = load_genesis(config), read_genesis_hash(config)
    trust = get_start_trust(config, genesis)
    with NodeStore(config.storage.path) as store:
        store.bind_genesis(genesis_hash, config.genesis_file)
        if store.latest_height():
            log.info("state sync skipped: the store holds blocks up to %d", store.latest_height())
            return None
        started = time.monotonic()
        state = ClearingApp(genesis).state
        allowed = get_allowed_peers(config, genesis, get_peer_validators(config, state))
        host = get_host_config(config, allowed, genesis_hash)
        timeout_s = config.state_sync.timeout_s
        async with open_p2p(host, ()) as p2p:
            with trio.move_on_after(timeout_s):
                restored = await restore_from_peers(p2p, store, genesis, genesis_hash, trust)
                log.info(
                    "state synced to height %d: a snapshot of %d bytes from %d peers in "
                    "%.1f s; blocks and history are held from there on",
                    restored.height, restored.snapshot_bytes, restored.peers,
                    time.monotonic() - started,
                )  # fmt: skip
                return restored
        raise StateSyncTimedOut(timeout_s)


class StateSyncTimedOut(StateSyncError):
    def __init__(self, timeout_s: int) -> None:
        super().__init__(
            f"state sync found no snapshot it could trust and fetch within {timeout_s} s "
            "(the log says what each peer offered): check p2p.persistent_peers, or set "
            "state_sync.enabled = false to block-sync from genesis (from an archive node)"
        )
        self.timeout_s = timeout_s


async def restore_from_peers(
    p2p: P2PNode, store: NodeStore, genesis: Genesis, genesis_hash: bytes, trust: Trust
) -> Restored:
    """Rounds of: ask every connected peer, take the highest offer that checks out, fetch
    and store it; a refused offer or snapshot is logged and the next one tried."""
    chain = get_consensus_chain_id(genesis.chain_id, genesis_hash)
    while True:
        if not p2p.connected_peers():
            await trio.sleep(PEER_WAIT_S)
            continue
        offers = await gather_offers(p2p)
        for peer, offer in sorted(offers.items(), key=lambda item: -item[1].height):
            try:
                trusted = check_offer(offer, genesis, genesis_hash, trust)
            except OfferRefused as exc:  # not the chain's: the peer's doing
                log.warning("state sync: %s (from %s)", exc, peer)
                p2p.penalize(peer, Offence.BAD_RESPONSE)
                continue
            except OfferBeforeCheckpoint as exc:
                log.info("state sync: %s (from %s)", exc, peer)
                continue
            same = [
                p
                for p, o in offers.items()
                if (o.height, o.chunk_hashes) == (offer.height, offer.chunk_hashes)
            ]
            sources = [peer, *(p for p in same if p != peer)]
            try:
                return await fetch_trusted(p2p, store, genesis, chain, trusted, sources)
            except SnapshotRefused as exc:  # e.g. pruned meanwhile: nobody's offence
                log.warning("state sync: %s", exc)
        await trio.sleep(ROUND_WAIT_S)


async def gather_offers(p2p: P2PNode) -> dict[str, SnapshotOffer]:
    """Each connected peer's offer, those offering none left out."""
    offers: dict[str, SnapshotOffer] = {}
    for peer in p2p.connected_peers():
        try:
            offer = await p2p.ask(
                peer, OFFER_PROTOCOL, OfferRequest().encode(), MAX_REQUEST_BYTES, MAX_OFFER_BYTES,
                SnapshotOffer.decode, Offence.UNDECODABLE,
            )  # fmt: skip
        except RequestFailed as exc:
            log.info("state sync: no offer from %s: %s", peer, exc.reason)
            continue
        except DecodeError as exc:
            log.warning("state sync: %s sent an undecodable offer: %s", peer, exc)
            continue
        log.info("state sync: %s offers the snapshot of height %d", peer, offer.height)
        if offer.height:
            offers[peer] = offer
    return offers


async def fetch_trusted(
    p2p: P2PNode, store: NodeStore, genesis: Genesis, chain: str, trusted: TrustedOffer,
    peers: list[str],
) -> Restored:  # fmt: skip
    """The trusted offer's snapshot and the older blocks a restored node holds, checked,
    then stored."""
    offer = trusted.offer
    log.info(
        "state sync: fetching the snapshot of height %d (%d bytes, %d chunks) from %d peers",
        offer.height, offer.size, offer.chunks, len(peers),
    )  # fmt: skip
    parts = [await fetch_chunk(p2p, peers, offer, index) for index in range(offer.chunks)]
    data = b"".join(parts)
    state = check_snapshot(data, trusted, genesis)
    pinned = await fetch_set_changes(p2p, peers, trusted, state, chain)
    walked_heights = {block.height for block in pinned}
    for height in get_carried_heights(state, offer.height):
        if height not in walked_heights:
            pinned.append(
                await fetch_certified_block(p2p, peers, offer.height, height, state, chain)
            )
    pinned.sort(key=lambda block: block.height)
    block = StoredBlock(offer.height, offer.block, offer.certificate, trusted.root)
    snapshot = Snapshot(offer.height, data, trusted.root)
    await trio.to_thread.run_sync(store.save_restored, snapshot, block, pinned)
    return Restored(offer.height, offer.size, len(peers), state)


async def fetch_chunk(p2p: P2PNode, peers: list[str], offer: SnapshotOffer, index: int) -> bytes:
    """Chunk `index`, from the first of `peers` that serves it whole. Each of `peers`
    offered these chunks' hashes: one that serves another chunk is scored down."""
    request = ChunkRequest(offer.height, index).encode()
    expected = min(offer.size - index * CHUNK_BYTES, CHUNK_BYTES)
    for peer in peers:
        try:
            data = await p2p.request(
                peer, CHUNK_PROTOCOL, request, MAX_REQUEST_BYTES, MAX_CHUNK_RESPONSE_BYTES
            )
            chunk = SnapshotChunk.decode(data)
        except (RequestFailed, DecodeError) as exc:
            log.info("state sync: chunk %d from %s failed: %s", index, peer, exc)
            continue
        if not chunk.data:
            log.info("state sync: %s no longer serves chunk %d of height %d", peer, index,
                     offer.height)  # fmt: skip
            continue
        if (chunk.height, chunk.index, len(chunk.data)) == (offer.height, index, expected) and (
            hashlib.sha256(chunk.data).digest() == offer.chunk_hashes[index]
        ):
            return chunk.data
        log.warning("state sync: %s served a chunk %d of height %d that is not the one it "
                    "offered: scored down", peer, index, offer.height)  # fmt: skip
        p2p.penalize(peer, Offence.BAD_RESPONSE)
    raise SnapshotRefused(offer.height, f"no peer served its chunk {index}")


async def fetch_set_changes(
    p2p: P2PNode, peers: list[str], trusted: TrustedOffer, state: ClearingState, chain: str
) -> list[StoredBlock]:
    """The blocks before the snapshot that name a new validator set, each the one the
    anchor's walk went through, with the anchor's commit, which must be of the set the
    restored `state` names (a walk from a checkpoint checks none before it). Every node
    keeps them (node/retention.py): anchors of reports read them."""
    pinned = []
    for change in trusted.anchor.set_changes:
        height = change.header.height
        if height >= trusted.offer.height:
            break
        synced = await fetch_block(p2p, peers, height)
        if synced is None:
            raise SnapshotRefused(trusted.offer.height, f"no peer served block {height}")
        commit = change.commit
        if Block.decode(synced.block).hash != change.header.hash or not isinstance(
            commit, CommitCertificate
        ):
            raise SnapshotRefused(trusted.offer.height, f"its peers' block {height} is not "
                                  "the one the anchor's walk went through")  # fmt: skip
        try:
            check_certified(height, synced.block, commit.encode(), state, chain)
        except BlockRefused as exc:
            raise SnapshotRefused(trusted.offer.height, f"its anchor's {exc}") from None
        pinned.append(StoredBlock(height, synced.block, commit.encode(), b""))
    return pinned


async def fetch_certified_block(
    p2p: P2PNode, peers: list[str], snapshot: int, height: int, state: ClearingState, chain: str
) -> StoredBlock:
    """Block `height` (one a snapshot carries that the anchor's walk did not bring: the
    first of a recent report epoch, node/retention.py) from the first of `peers` that
    serves it with a certificate of the set the restored `state` says signed it; a peer
    serving another block is scored down."""
    for peer in peers:
        synced = await fetch_block(p2p, [peer], height)
        if synced is None:
            continue
        try:
            check_certified(height, synced.block, synced.certificate, state, chain)
        except BlockRefused as exc:
            log.warning("state sync: %s (from %s): scored down", exc, peer)
            p2p.penalize(peer, Offence.BAD_RESPONSE)
            continue
        return StoredBlock(height, synced.block, synced.certificate, b"")
    raise SnapshotRefused(snapshot, f"no peer served its block {height} with a certificate")


async def fetch_block(p2p: P2PNode, peers: list[str], height: int) -> SyncedBlock | None:
    """Block `height` as the first of `peers` that holds it serves it (None: none does)."""
    for peer in peers:
        try:
            response = await fetch_blocks(p2p, peer, height, 1)
        except (RequestFailed, DecodeError) as exc:
            log.info("state sync: block %d from %s failed: %s", height, peer, exc)
            continue
        if response.blocks:
            return response.blocks[0]
    return None
