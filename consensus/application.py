"""What consensus needs from the application (the node implements it with clearing/).

Consensus orders opaque transactions; the application decides what they mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from consensus.types import Block, CommitCertificate, Validator


@dataclass(frozen=True)
class TxAccepted:
    pass


@dataclass(frozen=True)
class TxRejected:
    reason: str


CheckTxResult = TxAccepted | TxRejected


class Application(Protocol):
    """Deterministic application driven by committed blocks.

    Invariant: `finalize_block` on the same sequence of blocks returns the same
    state roots on every node; `process_proposal` is deterministic too, so all
    honest validators give the same verdict on a block.
    """

    def check_tx(self, tx: bytes) -> CheckTxResult:
        """Admission check for the mempool; must not change committed state."""
        ...

    def prepare_proposal(self, height: int, time_ms: int, txs: Sequence[bytes]) -> Sequence[bytes]:
        """Choose and order the txs of the block we propose (from mempool candidates)."""
        ...

    def process_proposal(self, block: Block) -> bool:
        """Whether a proposed block is acceptable (its txs are valid in order)."""
        ...

    def finalize_block(self, block: Block) -> bytes:
        """Apply a committed block; returns the new state root."""
        ...

    def get_validator_update(self, height: int) -> tuple[Validator, ...] | None:
        """The validator set the application holds after block `height` (finalized), if
        that block changed it; None if not. It governs height `height + 2` (CometBFT's
        rule: the proposer of `height + 1` is already known when `height` commits).
        Answers from committed state, so a restarted or restored node gets the same."""
        ...


class Mempool(Protocol):
    def reap(self, max_bytes: int) -> Sequence[bytes]:
        """Candidate txs for the next proposal, oldest first, within `max_bytes`."""
        ...

    def remove_committed(self, txs: Sequence[bytes]) -> None: ...

    def get_tx(self, tx_id: bytes) -> bytes | None:
        """The pending transaction whose id (`consensus.compact.compute_tx_id`) is `tx_id`."""
        ...


class BlockStore(Protocol):
    """Durable committed blocks with their certificates and resulting state roots."""

    def get_height(self) -> int:
        """Height of the last stored block; 0 when empty."""
        ...

    def get_block(self, height: int) -> tuple[Block, CommitCertificate] | None: ...

    def get_state_root(self, height: int) -> bytes:
        """State root after `height` (genesis root at 0)."""
        ...

    def save_block(self, block: Block, certificate: CommitCertificate, state_root: bytes) -> None:
        """Durably store a committed block before consensus moves to the next height."""
        ...
