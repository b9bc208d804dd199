"""In-process pieces for network tests: a mempool in memory, the example genesis and keys."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from clearing.genesis import Genesis, parse_genesis
from clearing.sandbox import derive_seed
from tests.clearing.support import genesis_doc


@dataclass
class ListMempool:
    """Arrival order, dedup by hash; enough for driving blocks in tests."""

    txs: dict[bytes, bytes] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.txs)

    def add(self, tx: bytes) -> None:
        self.txs.setdefault(hashlib.sha256(tx).digest(), tx)

    def reap(self, max_bytes: int) -> Sequence[bytes]:
        chosen, size = [], 0
        for tx in self.txs.values():
            if size + len(tx) <= max_bytes:
                chosen.append(tx)
                size += len(tx)
        return chosen

    def update(self, included: Sequence[bytes]) -> None:
        for tx in included:
            self.txs.pop(hashlib.sha256(tx).digest(), None)


def example_genesis() -> Genesis:
    """configs/genesis.example.json: four validators with devnet keys validator-0..3."""
    return parse_genesis(genesis_doc())


def validator_seed(index: int) -> bytes:
    return derive_seed(f"validator-{index}")
