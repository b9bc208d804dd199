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
from typing import Annotated, Any

from lightclient.crypto import HASH_BYTES, compute_hash
from records.codec import MAX_CHAIN_ID_BYTES, MAX_INT64, WIRE_VERSION, expect_text, pack
from records.declared import Bytes, Checked, Declared, Hash, Int, PublicKey, declare_record

ZERO_HASH = bytes(HASH_BYTES)
EMPTY_EVIDENCE_HASH = compute_hash()
MAX_STATE_ROOT_BYTES = 64
DOMAIN_BLOCK_HEADER = b"clearnode/consensus/header/v1\x00"
DOMAIN_VALIDATORS = b"clearnode/consensus/validators/v1\x00"


def read_chain_id(obj: object, what: str) -> str:
    return expect_text(obj, what, MAX_CHAIN_ID_BYTES)


ChainIdText = Annotated[str, Checked(read_chain_id)]
"""A chain id as CometBFT bounds it: in bytes, and empty allowed (which ``Str`` is not)."""


def compute_validators_hash(powers: Iterable[tuple[bytes, int]]) -> bytes:
    """The hash of a validator set as (public key, power) pairs, in key order: the same
    for a consensus set and a verifier's `ValidatorPowers`."""
    return compute_hash(DOMAIN_VALIDATORS, pack([[k, p] for k, p in sorted(powers)]))


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)  # no slots: `hash` is a cached_property
class BlockHeader(Declared):
    """Commits to the chain, parent, previous state root, txs, last commit, evidence,
    and the validator sets of this height and the next."""

    chain_id: ChainIdText
    height: Annotated[int, Int(1, MAX_INT64)]
    time_ms: Annotated[int, Int(0, MAX_INT64)]
    prev_block_hash: Hash
    prev_state_root: Annotated[bytes, Bytes(max_length=MAX_STATE_ROOT_BYTES)]
    txs_hash: Hash
    proposer: PublicKey
    last_commit_hash: Hash = ZERO_HASH
    evidence_hash: Hash = EMPTY_EVIDENCE_HASH
    validators_hash: Hash = ZERO_HASH
    next_validators_hash: Hash = ZERO_HASH

    def to_wire(self) -> list[Any]:
        """What an anchor writes of either engine's header (CometBFT's has its own)."""
        return self.to_fields()

    @cached_property
    def hash(self) -> bytes:
        return compute_hash(DOMAIN_BLOCK_HEADER, pack(self.to_fields()))
