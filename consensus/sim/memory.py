"""In-memory application, mempool and block store for the simulator and tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from consensus.compact import compute_tx_hash, index_txs
from consensus.types import Block, CommitCertificate, Voter
from lightclient.crypto import compute_hash

REJECTED_TX_PREFIX = b"reject:"


def is_accepted(tx: bytes) -> bool:
    return not tx.startswith(REJECTED_TX_PREFIX)


@dataclass
class HashChainApp:
    """A deterministic app: state root = H(previous root, txs hash); rejects `reject:` txs."""

    finalized: list[bytes] = field(default_factory=list)
    set_changes: Mapping[int, tuple[Voter, ...]] = field(default_factory=dict)
    """The validator set after block `h` (taking effect at `h + 2`), where it changes."""

    def check_height(self, height: int) -> None:
        """Decides every height."""

    def prepare_proposal(self, height: int, time_ms: int, txs: Sequence[bytes]) -> Sequence[bytes]:
        return [tx for tx in txs if is_accepted(tx)]

    def process_proposal(self, block: Block) -> bool:
        return all(is_accepted(tx) for tx in block.txs)

    def finalize_block(self, block: Block) -> bytes:
        root = compute_hash(block.header.prev_state_root, block.header.txs_hash)
        self.finalized.append(root)
        return root

    def get_validator_update(self, height: int) -> tuple[Voter, ...] | None:
        return self.set_changes.get(height)


@dataclass
class ListMempool:
    txs: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = index_txs(self.txs)

    def get_tx(self, tx_id: bytes) -> bytes | None:
        return self._by_id.get(tx_id)

    def reap(self, max_bytes: int) -> Sequence[bytes]:
        out: list[bytes] = []
        size = 0
        for tx in self.txs:
            if size + len(tx) > max_bytes:
                break
            out.append(tx)
            size += len(tx)
        return out

    def update(self, committed: Sequence[bytes]) -> None:
        done = set(committed)
        self.txs = [tx for tx in self.txs if tx not in done]
        for tx in done:  # what stays pending keeps its id, not hashed again at each block
            self._by_id.pop(compute_tx_hash(tx), None)


@dataclass
class MemoryBlockStore:
    genesis_state_root: bytes
    blocks: list[tuple[Block, CommitCertificate, bytes]] = field(default_factory=list)
    validator_checkpoint: bytes | None = None

    def get_height(self) -> int:
        return len(self.blocks)

    def get_block(self, height: int) -> tuple[Block, CommitCertificate] | None:
        if not 1 <= height <= len(self.blocks):
            return None
        block, certificate, _ = self.blocks[height - 1]
        return block, certificate

    def get_state_root(self, height: int) -> bytes:
        return self.genesis_state_root if height == 0 else self.blocks[height - 1][2]

    def save_block(self, block: Block, certificate: CommitCertificate, state_root: bytes) -> None:
        assert block.height == len(self.blocks) + 1, "blocks are stored in order"
        self.blocks.append((block, certificate, state_root))

    def load_validator_checkpoint(self) -> bytes | None:
        return self.validator_checkpoint

    def save_validator_checkpoint(self, checkpoint: bytes) -> None:
        self.validator_checkpoint = checkpoint

    def get_hashes(self) -> list[bytes]:
        return [b.hash for b, _, _ in self.blocks]
