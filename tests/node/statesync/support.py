"""Offers as a peer of the example genesis's chain makes them: the snapshot after a block,
that block, and the next block's header, committed by the genesis's validators' keys."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.genesis import Genesis
from clearing.state import ClearingState
from clearing.transition.root import compute_state_root
from consensus.types import Block
from lightclient.anchor import StateAnchor
from lightclient.header import BlockHeader
from node.clearing_app import ClearingApp
from node.p2p import P2PNode
from node.p2p.blocksync import PROTOCOL, SyncedBlock, SyncRequest, SyncResponse
from node.statesync.records import SnapshotOffer
from node.statesync.verify import hash_chunks
from records.codec import pack
from tests.lightclient.support import get_powers, make_commit
from tests.node.netsupport import example_genesis, iter_trading_blocks, make_block, validator_seed

GENESIS = example_genesis()
KEYS = [Ed25519PrivateKey.from_private_bytes(validator_seed(i)) for i in range(4)]


def make_next_header(genesis: Genesis, state: ClearingState, block: Block) -> BlockHeader:
    """The header of the block after `block`, committing to `state` (the state after it)."""
    powers = get_powers(KEYS)
    return replace(
        make_block(genesis, block.header.height + 1, []).header,
        prev_block_hash=block.hash,
        prev_state_root=compute_state_root(state),
        validators_hash=powers.hash,
        next_validators_hash=powers.hash,
    )


def make_offer(
    snapshot: bytes, block: Block, following: BlockHeader, signers: int = 3,
    block_signers: int = 3, chain_id: int = GENESIS.chain_id,
) -> SnapshotOffer:  # fmt: skip
    """The offer of `snapshot` (the state after `block`), anchored by `following`, with
    `signers` of the four keys precommitting it and `block_signers` the block."""
    anchor = StateAnchor(following, make_commit(chain_id, following, KEYS[:signers]))
    certificate = make_commit(chain_id, block.header, KEYS[:block_signers])
    return SnapshotOffer(
        block.header.height, len(snapshot), hash_chunks(snapshot),
        block.encode(), certificate.encode(), pack(anchor.to_wire()),
    )  # fmt: skip


@dataclass
class Chain:
    blocks: list[SyncedBlock]
    roots: list[bytes]
    """The state root after each block, by height - 1."""
    state: ClearingState
    """After the last block."""


def build_chain(length: int, signers: int = 4, genesis: Genesis = GENESIS) -> Chain:
    """`length` linked trading blocks, each committed by `signers` of the four keys, as
    the blocks below a restored node's snapshot are backfilled."""
    app = ClearingApp(genesis)
    powers = get_powers(KEYS)
    blocks, roots, previous = [], [], None
    for height, txs in zip(range(1, length + 1), iter_trading_blocks(), strict=False):
        header = replace(
            make_block(genesis, height, txs).header,
            prev_block_hash=bytes(32) if previous is None else previous.hash,
            prev_state_root=app.last_root,
            validators_hash=powers.hash,
            next_validators_hash=powers.hash,
        )
        block = Block(header, tuple(txs), None)
        roots.append(app.finalize_block(block))
        certificate = make_commit(genesis.chain_id, header, KEYS[:signers])
        blocks.append(SyncedBlock(height, block.encode(), certificate.encode()))
        previous = block
    return Chain(blocks, roots, app.state)


def serve_chain(node: P2PNode, blocks: list[SyncedBlock], per_response: int) -> None:
    """`node` serves `blocks`, at most `per_response` an answer (as a byte cap would)."""

    async def handle(peer: str, data: bytes) -> bytes:
        request = SyncRequest.decode(data)
        first = request.from_height - 1
        held = blocks[first : first + min(request.max_count, per_response)]
        return SyncResponse(len(blocks), tuple(held)).encode()

    node.set_request_handler(PROTOCOL, handle, 64)
