"""The consensus application implemented with the clearing ledger.

Consensus orders opaque transactions; this module is where they meet
`clearing/`. A block's transactions that clearing rejects stay in the block
with their rejection result (so every node records the same outcome); a
proposal is refused only when it cannot be a block at all: too big, too many
transactions, or a transaction that does not decode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from clearing.context import Equivocation
from clearing.genesis import Genesis
from clearing.limits import MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_PROPOSER_TXS_BYTES, MAX_TX_BYTES
from clearing.release import MIGRATIONS
from clearing.state import ClearingState, initialize_state
from clearing.transition.block import BlockContext, BlockResult, process_block
from clearing.transition.root import compute_state_root
from clearing.upgrade import check_release
from consensus.types import Block, Voter
from node.decoded_txs import decode_once
from node.worktime import BLOCK_APPLY, PROPOSAL_CHECK, WorkTime
from records.codec import DecodeError

log = logging.getLogger(__name__)

ProposalSource = Callable[[int, int], list[bytes]]


class ClearingApp:
    """The consensus `Application` over the clearing state; `apply_block` is the only writer.

    Invariant: `last_root` is the state root after block `height` (genesis root at 0).
    """

    def __init__(self, genesis: Genesis, work: WorkTime | None = None) -> None:
        self.genesis = genesis
        self.work = WorkTime() if work is None else work
        self.state: ClearingState = initialize_state(genesis)
        self.last_root = compute_state_root(self.state)
        self.last_result: BlockResult | None = None
        self.proposal_sources: list[ProposalSource] = []

    @property
    def height(self) -> int:
        return self.state.height

    def add_proposal_source(self, source: ProposalSource) -> None:
        """`source(height, time_ms)` gives transactions this node puts first in its own
        proposals (a quorum-attested price update, collateral credits); the other
        validators check them like any transaction, so a source changes no rule."""
        self.proposal_sources.append(source)

    def check_height(self, height: int) -> None:
        """Raise `ReleaseMismatch` unless this release applies block `height` (the one
        after the state's: clearing/upgrade.py), before consensus signs anything of it."""
        if height == self.state.height + 1:
            check_release(self.state, MIGRATIONS)

    def prepare_proposal(self, height: int, time_ms: int, txs: Sequence[bytes]) -> list[bytes]:
        """The proposal sources' transactions (within MAX_PROPOSER_TXS_BYTES, so the largest
        transaction still fits beside them), then mempool candidates in order, while they
        fit the block limits."""
        extra: list[bytes] = []
        extra_size = 0
        for raw in (raw for source in self.proposal_sources for raw in source(height, time_ms)):
            if extra_size + len(raw) <= MAX_PROPOSER_TXS_BYTES:
                extra.append(raw)
                extra_size += len(raw)
        chosen: list[bytes] = []
        size = 0
        for raw in [*extra, *txs]:
            if len(chosen) == MAX_BLOCK_TXS:
                break
            if size + len(raw) > MAX_BLOCK_BYTES:
                continue
            chosen.append(raw)
            size += len(raw)
        return chosen

    def process_proposal(self, block: Block) -> bool:
        with self.work.measure(PROPOSAL_CHECK):
            error = compute_proposal_error(block.txs)
        if error is not None:
            log.warning(
                "proposal %s at height %d refused: %s", block.hash.hex()[:12], block.height, error
            )
        return error is None

    def finalize_block(self, block: Block) -> bytes:
        """Applies a block our engine committed; returns the new state root."""
        ctx = BlockContext(
            block.height, block.header.time_ms, self.genesis.chain_id, get_equivocations(block)
        )
        return self.apply_block(ctx, block.txs).state_root

    def apply_block(self, ctx: BlockContext, txs: Sequence[bytes]) -> BlockResult:
        """Applies a committed block, whichever engine decided it: the one writer of the
        state, so the same blocks give the same root on both engines."""
        with self.work.measure(BLOCK_APPLY):
            result = process_block(self.state, ctx, list(txs), decode=decode_once)
        self.last_root = result.state_root
        self.last_result = result
        return result

    def get_validator_update(self, height: int) -> tuple[Voter, ...] | None:
        """The active validators clearing recorded after block `height`, if it changed them
        (governance, jailing): in the state root and snapshots, so a restored node answers
        the same."""
        changed = self.state.validator_sets.get(height)
        if changed is None:
            return None
        return tuple(Voter(v.name, v.pubkey, v.power) for v in changed)


def get_equivocations(block: Block) -> tuple[Equivocation, ...]:
    """The block's committed duplicate-vote evidence, as clearing's input: in block order,
    so every node jails the same keys at the same height."""
    return tuple(Equivocation(e.validator, e.height) for e in block.evidence)


def compute_proposal_error(txs: Sequence[bytes]) -> str | None:
    """Why `txs` cannot be a block (limits, undecodable transaction), or None.

    Transactions clearing rejects are fine: they stay in the block with their result.
    """
    if len(txs) > MAX_BLOCK_TXS:
        return f"{len(txs)} transactions exceed {MAX_BLOCK_TXS}"
    total = sum(len(raw) for raw in txs)
    if total > MAX_BLOCK_BYTES:
        return f"{total} bytes exceed {MAX_BLOCK_BYTES}"
    for index, raw in enumerate(txs):
        if len(raw) > MAX_TX_BYTES:
            return f"transaction {index}: {len(raw)} bytes exceed {MAX_TX_BYTES}"
        try:
            decode_once(raw)
        except DecodeError as exc:
            return f"transaction {index}: {exc}"
    return None
