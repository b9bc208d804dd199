"""The consensus application implemented with the clearing ledger.

Consensus orders opaque transactions; this module is where they meet
`clearing/`. A block's transactions that clearing rejects stay in the block
with their rejection result (so every node records the same outcome); a
proposal is refused only when it cannot be a block at all: too big, too many
transactions, or a transaction that does not decode.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from clearing.block import BlockContext, BlockResult, process_block
from clearing.errors import DecodeError
from clearing.genesis import Genesis
from clearing.root import compute_state_root
from clearing.state import ClearingState, initialize_state
from clearing.tx import MAX_TX_BYTES, decode_tx

log = logging.getLogger(__name__)

MAX_BLOCK_BYTES = 8 * 1024 * 1024
MAX_BLOCK_TXS = 20_000


class ProposalRejected(ValueError):
    """A proposed block cannot be a block: it names the limit or the transaction at fault."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Finalized:
    height: int
    state_root: bytes
    result: BlockResult


class ClearingApp:
    """Owns the clearing state; `finalize_block` is the only writer."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.state: ClearingState = initialize_state(genesis)
        self.last_root = compute_state_root(self.state)

    @property
    def height(self) -> int:
        return self.state.height

    def check_tx(self, raw: bytes) -> None:
        """Mempool admission: size and decoding. Raises DecodeError (changes nothing)."""
        decode_tx(raw)

    def prepare_proposal(
        self, candidates: Sequence[bytes], max_bytes: int = MAX_BLOCK_BYTES
    ) -> list[bytes]:
        """Takes mempool transactions in order while they fit the block limits."""
        chosen: list[bytes] = []
        size = 0
        for raw in candidates:
            if len(chosen) == MAX_BLOCK_TXS:
                break
            if size + len(raw) > max_bytes:
                continue
            chosen.append(raw)
            size += len(raw)
        return chosen

    def process_proposal(self, txs: Sequence[bytes]) -> None:
        """Raises ProposalRejected unless `txs` could be a block; changes nothing."""
        if len(txs) > MAX_BLOCK_TXS:
            raise ProposalRejected(f"{len(txs)} transactions exceed {MAX_BLOCK_TXS}")
        total = sum(len(raw) for raw in txs)
        if total > MAX_BLOCK_BYTES:
            raise ProposalRejected(f"{total} bytes exceed {MAX_BLOCK_BYTES}")
        for index, raw in enumerate(txs):
            if len(raw) > MAX_TX_BYTES:
                raise ProposalRejected(f"transaction {index}: {len(raw)} bytes > {MAX_TX_BYTES}")
            try:
                decode_tx(raw)
            except DecodeError as exc:
                raise ProposalRejected(f"transaction {index}: {exc}") from exc

    def finalize_block(self, height: int, time_ms: int, txs: Sequence[bytes]) -> Finalized:
        """Applies a committed block; returns the new state root (same on every node)."""
        ctx = BlockContext(height, time_ms, self.genesis.chain_id)
        result = process_block(self.state, ctx, list(txs))
        self.last_root = result.state_root
        return Finalized(height, result.state_root, result)
