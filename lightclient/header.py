"""Block headers: what a commit certificate signs, and what binds a height's state root.

Block H+1's header commits to the state root after block H (`prev_state_root`); a
quorum's precommits of H+1 therefore vouch for that root. A header also commits to the
validator set that signs it (`validators_hash`) and to the one that signs the next
height (`next_validators_hash`), as CometBFT's: a light client holding one set sees
whether a header is signed by it, or by a set governance changed it to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lightclient.codec import (
    MAX_CHAIN_ID_BYTES,
    MAX_INT64,
    WIRE_VERSION,
    expect_bytes,
    expect_int,
    expect_text,
    expect_versioned,
    pack,
)
from lightclient.crypto import HASH_BYTES, PUBLIC_KEY_BYTES, compute_hash

ZERO_HASH = bytes(HASH_BYTES)
EMPTY_EVIDENCE_HASH = compute_hash()
MAX_STATE_ROOT_BYTES = 64
DOMAIN_BLOCK_HEADER = b"clearnode/consensus/header/v1\x00"
DOMAIN_VALIDATORS = b"clearnode/consensus/validators/v1\x00"


def compute_validators_hash(powers: Iterable[tuple[bytes, int]]) -> bytes:
    """The hash of a validator set as (public key, power) pairs, in key order: the same
    for a consensus set and a verifier's `ValidatorPowers`."""
    return compute_hash(DOMAIN_VALIDATORS, pack([[k, p] for k, p in sorted(powers)]))


@dataclass(frozen=True)
class BlockHeader:
    """Commits to the chain, parent, previous state root, txs, last commit, evidence,
    and the validator sets of this height and the next."""

    chain_id: str
    height: int
    time_ms: int
    prev_block_hash: bytes
    prev_state_root: bytes
    txs_hash: bytes
    proposer: bytes
    last_commit_hash: bytes = ZERO_HASH
    evidence_hash: bytes = EMPTY_EVIDENCE_HASH
    validators_hash: bytes = ZERO_HASH
    next_validators_hash: bytes = ZERO_HASH

    def to_wire(self) -> list[Any]:
        return [
            WIRE_VERSION,
            self.chain_id,
            self.height,
            self.time_ms,
            self.prev_block_hash,
            self.prev_state_root,
            self.txs_hash,
            self.proposer,
            self.last_commit_hash,
            self.evidence_hash,
            self.validators_hash,
            self.next_validators_hash,
        ]

    @staticmethod
    def from_wire(obj: Any) -> BlockHeader:
        items = expect_versioned(obj, "header", 12)
        return BlockHeader(
            expect_text(items[1], "header.chain_id", MAX_CHAIN_ID_BYTES),
            expect_int(items[2], "header.height", 1, MAX_INT64),
            expect_int(items[3], "header.time_ms", 0, MAX_INT64),
            expect_bytes(items[4], "header.prev_block_hash", HASH_BYTES),
            expect_bytes(items[5], "header.prev_state_root", max_len=MAX_STATE_ROOT_BYTES),
            expect_bytes(items[6], "header.txs_hash", HASH_BYTES),
            expect_bytes(items[7], "header.proposer", PUBLIC_KEY_BYTES),
            expect_bytes(items[8], "header.last_commit_hash", HASH_BYTES),
            expect_bytes(items[9], "header.evidence_hash", HASH_BYTES),
            expect_bytes(items[10], "header.validators_hash", HASH_BYTES),
            expect_bytes(items[11], "header.next_validators_hash", HASH_BYTES),
        )

    @cached_property
    def hash(self) -> bytes:
        return compute_hash(DOMAIN_BLOCK_HEADER, pack(self.to_wire()))
