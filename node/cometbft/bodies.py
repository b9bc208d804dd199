"""Where a CometBFT node finds the bodies a block's references name (node/storage/comet_compact.py).

In order: the node's mempool (`pending`: the `tx` topic's gossip brings most bodies there
before the proposal that names them), the bodies of proposals this node
accepted at heights not yet committed (and of blocks fetched ahead), and its peers: for a
committed block, that block and the ones after it from a peer's store
(node/p2p/blocksync.py's protocol), then by hash (node/p2p/txfetch.py's, answered from the
peers' mempools and accepted proposals); for a proposal, by hash alone.

A validator keeps the bodies of each proposal it accepts in its store before it answers
ProcessProposal, so before it prevotes: a block more than 2/3 of the power prevoted is
held by the honest ones among them, whatever crashes, and a node restarted between
CometBFT's commit of a block and its own resolves the block CometBFT replays to it. The
store forgets them with the block of their height (node/storage/node_store.py `save_block`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Protocol

import trio

from consensus.compact import compute_tx_hash
from node.p2p import Offence, P2PNode
from node.p2p.blocksync import fetch_first
from node.p2p.txfetch import HEDGE_S, fetch_txs
from node.storage import NodeStore
from node.storage.comet_block import MAX_RECORD_BYTES, CometBlockRecord
from records.codec import (
    WIRE_VERSION,
    DecodeError,
    expect_bytes,
    expect_list,
    expect_versioned,
    pack,
    unpack,
)

log = logging.getLogger(__name__)


class FetchBodies(Protocol):
    """Asks peers for the bodies of `tx_hashes` the block at `height` names (a block the
    chain `committed`: peers' stores hold it, and the blocks after it), the node of the
    block's `proposer` (which holds them) before the others; returns what they gave, by the
    height of the block each belongs to."""

    def __call__(
        self, height: int, tx_hashes: Sequence[bytes], committed: bool, proposer: str | None = None
    ) -> Awaitable[dict[int, list[bytes]]]: ...


GOSSIP_WAIT_S = 0.1
"""How long a proposal naming bodies not yet here waits for the `tx` topic's gossip before
asking peers: the bodies left their first validator before the proposal did."""
GOSSIP_POLL_S = 0.002
PROPOSAL_WAIT_S = 2.0
"""How long ProcessProposal seeks what a proposal names before refusing it (a prevote for
nil: the round goes on without this validator, or moves to the next)."""
SLOW_PROPOSAL_FETCH_S = 0.5
"""A proposal whose missing bodies took this long from the peers is logged (at info): the
validator prevotes only after them, so a far validator that keeps logging it is late to
every height, and late to propose at its own (across regions a round trip is at most a
quarter of a second)."""
KEPT_HEIGHTS = 4
"""Committed blocks whose referenced bodies a node keeps answering peers' asks from: a
validator the gossip reached late asks for a proposal's bodies while the others, a quorum
without it, have committed it already (their mempools let the bodies go); at load a few
heights pass in PROPOSAL_WAIT_S."""
STORED_HEDGE_S = 0.5
"""A peer that has not sent a committed block's bodies within this is not waited for alone
(node/p2p/blocksync.py `fetch_first`): across regions its answer takes two round trips
and the blocks' bytes, a link stalled on a lost segment a second and more."""
FETCH_RETRY_S = (0.1, 0.2, 0.5, 1.0)
"""Between two asks of the peers for a committed block's bodies (then the last, until
found: the block is committed, and more than 2/3 of the power prevoted it with its bodies)."""
PREFETCH_BLOCKS = 16
"""Blocks asked of a peer's store at once for a committed block's bodies: CometBFT's block
sync applies the next ones at once, so one round trip serves that many heights (across
regions a round trip is up to a quarter of a second; a chain at load makes several blocks
a second)."""


class BlockBodies:
    """The bodies this node can resolve a reference from, or give a peer (`get`): its
    mempool's, those it keeps for the proposals it accepted (`accept`) until their height
    is committed, and those the last KEPT_HEIGHTS committed blocks named (`commit`); a
    restarted node starts with the accepted ones its store kept."""

    def __init__(
        self, pending: Callable[[bytes], bytes | None], store: NodeStore | None = None
    ) -> None:
        self.pending = pending
        self.store = store
        self.accepted: dict[int, dict[bytes, bytes]] = {}
        self.committed: dict[int, dict[bytes, bytes]] = {}
        for height, data in [] if store is None else store.load_proposal_txs():
            self.accepted.setdefault(height, {}).update(index(decode_bodies(data)))

    def get(self, tx_hash: bytes) -> bytes | None:
        if (tx := self.pending(tx_hash)) is not None:
            return tx
        for bodies in itertools.chain(self.accepted.values(), self.committed.values()):
            if (tx := bodies.get(tx_hash)) is not None:
                return tx
        return None

    def accept(self, height: int, referenced: Mapping[bytes, bytes]) -> None:
        """Keeps `referenced` (a proposal's referenced bodies at `height`, by the hashes its
        references carry, which resolving them checked), in the store first."""
        if self.store is not None:
            self.store.save_proposal_txs(height, encode_bodies(list(referenced.values())))
        self.accepted.setdefault(height, {}).update(referenced)

    def add(self, height: int, txs: Sequence[bytes]) -> None:
        """Bodies of the block at `height` (a peer's: checked against their hashes)."""
        self.accepted.setdefault(height, {}).update(index(txs))

    def commit(self, height: int, referenced: dict[bytes, bytes]) -> None:
        """The block at `height` is committed, naming `referenced` by hash: those are kept
        in memory for the peers' asks (the mempool let them go), those of blocks more than
        KEPT_HEIGHTS before it forgotten, and so are the proposals of every height up to it."""
        for held in [h for h in self.accepted if h <= height]:
            del self.accepted[held]
        self.committed[height] = referenced
        for held in [h for h in self.committed if h <= height - KEPT_HEIGHTS]:
            del self.committed[held]


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
    committed: bool,
    proposer: str | None = None,
) -> None:
    """Seeks the bodies of `wanted` (hashes the block at `height` names) this node lacks.
    A proposal's: in the mempool as gossip fills it, then of the peers (its `proposer`
    first), for at most PROPOSAL_WAIT_S. A committed block's: of the peers until found
    (the gossip brought what it could before the block was decided)."""
    missing = [h for h in dict.fromkeys(wanted) if bodies.get(h) is None]
    if not committed:
        with trio.move_on_after(GOSSIP_WAIT_S):
            while missing:
                await trio.sleep(GOSSIP_POLL_S)
                missing = [h for h in missing if bodies.get(h) is None]
    if not missing:
        return
    asked_at, asked_for = trio.current_time(), len(missing)
    with trio.move_on_after(float("inf") if committed else PROPOSAL_WAIT_S - GOSSIP_WAIT_S):
        for attempt in itertools.count():
            for found_at, txs in (await fetch(height, missing, committed, proposer)).items():
                bodies.add(found_at, txs)
            missing = [h for h in missing if bodies.get(h) is None]
            if not missing:
                took_s = trio.current_time() - asked_at
                if not committed and took_s >= SLOW_PROPOSAL_FETCH_S:
                    log.info("proposal of height %d: %d of its %d bodies came from peers "
                             "only %d ms after the gossip's wait (%d asks, proposer %s first)",
                             height, asked_for, len(set(wanted)), round(took_s * 1000),
                             attempt + 1, proposer)  # fmt: skip
                return
            if attempt == len(FETCH_RETRY_S):
                log.warning("block %d: %d transactions it names not found at any peer "
                            "yet; still asking", height, len(missing))  # fmt: skip
            await trio.sleep(FETCH_RETRY_S[min(attempt, len(FETCH_RETRY_S) - 1)])


async def fetch_bodies(
    p2p: P2PNode,
    height: int,
    tx_hashes: Sequence[bytes],
    committed: bool,
    proposer: str | None = None,
) -> dict[int, list[bytes]]:
    """What the peers give of `tx_hashes` (named by the block at `height`), the node of
    its `proposer` asked before the others if connected (across regions each ask is a
    round trip): of a committed block, first that block and the PREFETCH_BLOCKS - 1 after
    it from a peer's store; then what is still missing by hash, from the peers' mempools,
    proposals and last blocks. A peer slow to answer is not waited for alone (a body the
    gossip has not brought is most often behind a link stalled on a lost segment, and so
    is an ask over that link). Each body is used only for the hash it has, so a peer's
    wrong one resolves nothing."""
    peers = p2p.connected_peers()
    if proposer in peers:
        peers = [proposer, *(peer for peer in peers if peer != proposer)]
    found = await fetch_stored_bodies(p2p, peers, height) if committed else {}
    got = {compute_tx_hash(tx) for tx in found.get(height, ())}
    wanted = [h for h in tx_hashes if h not in got]
    if wanted:
        found.setdefault(height, []).extend(await fetch_txs(p2p, peers, wanted, HEDGE_S))
    return found


async def fetch_stored_bodies(
    p2p: P2PNode, peers: Sequence[str], height: int
) -> dict[int, list[bytes]]:
    """The transactions of the blocks from `height` on (PREFETCH_BLOCKS at most) that the
    first of `peers` holding `height` stores, by height; the next peer asked too when one
    is slow to answer (STORED_HEDGE_S)."""
    usable = list(peers)
    while usable:
        answer = await fetch_first(p2p, usable, height, PREFETCH_BLOCKS, STORED_HEDGE_S)
        for peer, exc in answer.failed:  # the peer scored down if it misspoke
            log.info("blocks from %d of %s for their bodies: %s", height, peer, exc)
            usable.remove(peer)
        if answer.peer is None or answer.response is None:
            continue
        usable.remove(answer.peer)
        try:
            records = [CometBlockRecord.decode(block.block) for block in answer.response.blocks]
        except DecodeError as exc:
            log.info("blocks from %d of %s for their bodies refused: %s", height, answer.peer,
                     exc)  # fmt: skip
            p2p.penalize(answer.peer, Offence.BAD_RESPONSE)
            continue
        if records:
            return {record.height: list(record.txs) for record in records}
    return {}
