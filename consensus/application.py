"""What consensus needs from the application (the node implements it with clearing/:
`node/clearing_app.py`), shaped as ABCI 2.0's block calls.

Consensus orders opaque transactions; the application decides what they mean. Whether
a transaction may wait in a mempool is not consensus's question: the mempool's owner
checks it (the node's admission, `clearing/transition/admission.py`), and the block checks it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from consensus.types import Block, Voter


class Application(Protocol):
    """Deterministic application driven by committed blocks.

    Invariant: `finalize_block` on the same sequence of blocks returns the same
    state roots on every node; `process_proposal` is deterministic too, so all
    honest validators give the same verdict on a block.
    """

    def check_height(self, height: int) -> None:
        """Raise if this application cannot decide block `height`, the one after its last
        (its software must change first: an upgrade in place). The engine asks before it
        signs or applies anything of a height, and the error ends the engine."""
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

    def get_validator_update(self, height: int) -> tuple[Voter, ...] | None:
        """The validator set the application holds after block `height` (finalized), if
        that block changed it; None if not. It governs height `height + 2` (CometBFT's
        rule: the proposer of `height + 1` is already known when `height` commits).
        Answers from committed state, so a restarted or restored node gets the same."""
        ...
