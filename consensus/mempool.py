"""The transactions waiting for a block, as the engine uses them (`EngineMempool`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class EngineMempool(Protocol):
    """The transactions waiting for a block, as the engine uses them (the node's is
    `node/txpool.py`'s `TxPool`, which checks what it admits)."""

    def reap(self, max_bytes: int) -> Sequence[bytes]:
        """Candidate txs for the next proposal, in the order to propose them, within
        `max_bytes`."""
        ...

    def update(self, committed: Sequence[bytes]) -> object:
        """After a block commits: forget its transactions `committed` (as CometBFT's
        mempool `Update`; the node's also drops what they made invalid)."""
        ...

    def get_tx(self, tx_id: bytes) -> bytes | None:
        """The pending transaction whose id (`consensus.compact.compute_tx_hash`) is `tx_id`."""
        ...
