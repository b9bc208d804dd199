"""Where a CometBFT node finds the bodies a block's references name (node/cometbft/compact.py).

In order: CometBFT's mempool as the app's CheckTx saw it (`pending`: gossip brings most
bodies there before the proposal that names them), the bodies of proposals this node
accepted at heights not yet committed, and its peers (node/txfetch.py's protocol, answered
from the same; then, for a block the chain committed before, the block by its height
through node/blocksync.py's, answered from the peers' stores).

A validator keeps the bodies of each proposal it accepts in its store before it answers
ProcessProposal, so before it prevotes: a block more than 2/3 of the power prevoted is
held by the honest ones among them, whatever crashes, and a node restarted between
CometBFT's commit of a block and its own resolves the block CometBFT replays to it. The
store forgets them with the block of their height (node/storage.py `save_block`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

import trio

from consensus.compact import compute_tx_hash
from lightclient.codec import (
    WIRE_VERSION,
    DecodeError,
    expect_bytes,
    expect_list,
    expect_versioned,
    pack,
    unpack,
)
from node.blocksync import fetch_blocks
from node.cometbft.record import MAX_RECORD_BYTES, CometBlockRecord
from node.p2p import Offence, P2PNode, RequestFailed
from node.storage import NodeStore
from node.txfetch import fetch_txs, serve_txs

log = logging.getLogger(__name__)

FetchBodies = Callable[[int, Sequence[bytes]], Awaitable[list[bytes]]]
"""Asks peers for the bodies of hashes named by the block at a height; returns those found."""

GOSSIP_WAIT_S = 0.1
"""How long a proposal naming bodies not yet here waits for the mempool's gossip before
asking peers: the bodies left their first validator before the proposal did."""
GOSSIP_POLL_S = 0.002
PROPOSAL_WAIT_S = 2.0
"""How long ProcessProposal seeks what a proposal names before refusing it (a prevote for
nil: the round goes on without this validator, or moves to the next)."""
FETCH_RETRY_S = (0.1, 0.2, 0.5, 1.0)
"""Between two asks of the peers for a committed block's bodies (then the last, until
found: the block is committed, and more than 2/3 of the power prevoted it with its bodies)."""


class BlockBodies:
    """The bodies this node can resolve a reference from (`get`), and those it keeps for
    the proposals it accepted (`accept`) until their height is committed (`forget_to`);
    a restarted node starts with the ones its store kept."""

    def __init__(self, pending: dict[bytes, bytes], store: NodeStore | None = None) -> None:
        self.pending = pending
        self.store = store
        self.accepted: dict[int, dict[bytes, bytes]] = {}
        for height, data in [] if store is None else store.load_proposal_txs():
            self.accepted.setdefault(height, {}).update(index(decode_bodies(data)))

    def get(self, tx_hash: bytes) -> bytes | None:
        if (tx := self.pending.get(tx_hash)) is not None:
            return tx
        for bodies in self.accepted.values():
            if (tx := bodies.get(tx_hash)) is not None:
                return tx
        return None

    def accept(self, height: int, txs: Sequence[bytes]) -> None:
        """Keeps `txs` (a proposal's referenced bodies at `height`), in the store first."""
        if self.store is not None:
            self.store.save_proposal_txs(height, encode_bodies(txs))
        self.add(height, txs)

    def add(self, height: int, txs: Sequence[bytes]) -> None:
        """Bodies of the block at `height` (a peer's: checked against their hashes)."""
        self.accepted.setdefault(height, {}).update(index(txs))

    def forget_to(self, height: int) -> None:
        for held in [h for h in self.accepted if h <= height]:
            del self.accepted[held]


def index(txs: Iterable[bytes]) -> dict[bytes, bytes]:
    return {compute_tx_hash(tx): tx for tx in txs}


def encode_bodies(txs: Sequence[bytes]) -> bytes:
    return pack([WIRE_VERSION, list(txs)])


def decode_bodies(data: bytes) -> list[bytes]:
    """The bodies a proposal kept (the node's own file: a row it cannot read is none)."""
    try:
        _, txs = expect_versioned(unpack(data, "kept bodies", MAX_RECORD_BYTES), "kept bodies", 2)
        return [
            expect_bytes(tx, "kept body", max_len=MAX_RECORD_BYTES)
            for tx in expect_list(txs, "kept bodies")
        ]
    except DecodeError as exc:
        log.error("kept proposal bodies unreadable, skipped: %s", exc)
        return []


async def gather_bodies(
    bodies: BlockBodies,
    height: int,
    wanted: Sequence[bytes],
    fetch: FetchBodies,
    wait_s: float | None,
) -> None:
    """Seeks the bodies of `wanted` (hashes the block at `height` names) this node lacks:
    first in the mempool as gossip fills it, then of the peers, until none is missing or
    `wait_s` has passed (None: until found)."""
    missing = [h for h in dict.fromkeys(wanted) if bodies.get(h) is None]
    with trio.move_on_after(GOSSIP_WAIT_S):
        while missing:
            await trio.sleep(GOSSIP_POLL_S)
            missing = [h for h in missing if bodies.get(h) is None]
    if not missing:
        return
    with trio.move_on_after(float("inf") if wait_s is None else wait_s - GOSSIP_WAIT_S):
        for attempt in itertools.count():
            bodies.add(height, await fetch(height, missing))
            missing = [h for h in missing if bodies.get(h) is None]
            if not missing:
                return
            if attempt == len(FETCH_RETRY_S):
                log.warning("block %d: %d transactions it names not found at any peer "
                            "yet; still asking", height, len(missing))  # fmt: skip
            await trio.sleep(FETCH_RETRY_S[min(attempt, len(FETCH_RETRY_S) - 1)])


def serve_bodies(p2p: P2PNode, bodies: BlockBodies) -> None:
    """Answers peers' fetches of bodies by hash from what this node holds."""
    serve_txs(p2p, bodies.get)


async def fetch_bodies(p2p: P2PNode, height: int, tx_hashes: Sequence[bytes]) -> list[bytes]:
    """The bodies of `tx_hashes` (named by the block at `height`) the peers give: by hash
    from their mempools and proposals, then what is still missing from a peer's stored
    block of that height (the chain committed it before)."""
    peers = p2p.connected_peers()
    found = await fetch_txs(p2p, peers, tx_hashes)
    got = {compute_tx_hash(tx) for tx in found}
    wanted = {h for h in tx_hashes if h not in got}
    for peer in peers:
        if not wanted:
            break
        try:
            response = await fetch_blocks(p2p, peer, height, 1)
        except (RequestFailed, DecodeError) as exc:  # the peer scored down if it misspoke
            log.info("block %d from %s for its bodies: %s", height, peer, exc)
            continue
        if not response.blocks:
            continue
        try:
            record = CometBlockRecord.decode(response.blocks[0].block)
        except DecodeError as exc:
            log.info("block %d from %s for its bodies refused: %s", height, peer, exc)
            p2p.penalize(peer, Offence.BAD_RESPONSE)
            continue
        for tx in record.txs:
            tx_hash = compute_tx_hash(tx)
            if tx_hash in wanted:
                wanted.discard(tx_hash)
                found.append(tx)
    return found
