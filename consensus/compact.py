"""Compact proposals: a proposal whose block names by their ids the transactions the
peers already hold, carrying in full only those they may not (compact blocks, as
Bitcoin's BIP 152 and CometBFT's mempool-aware proposals do).

A compact proposal is the proposal's signed fields, the block's header, last commit
and evidence, one entry per transaction in block order (its id, or None where the
transaction is `prefilled`), and the prefilled transactions in order. The proposal's
signature covers the block hash, the header's hash, so the compact form carries the
same signature and a receiver checks it before fetching anything. Reassembled from
the receiver's mempool and from what it fetched, the block is the proposer's byte for
byte: the header's `txs_hash` commits to every transaction, and the state machine
refuses a body that does not match it (`Block.is_body_consistent`). What peers
store, sign and verify is the full block: certificates and light clients never
see the compact form.

A transaction's id is the SHA-256 of its bytes (what the node's mempool and API call its
hash). BIP 152 salts 6-byte short ids per block to save bytes; our blocks hold few
transactions (trade batches), so whole hashes cost little and never collide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

from consensus.types import (
    Block,
    Evidence,
    Height,
    LastCommit,
    PolRound,
    Proposal,
    Round,
    Txs,
    compute_proposal_sign_bytes,
)
from lightclient.crypto import HASH_BYTES, is_valid_signature
from lightclient.header import BlockHeader
from records.codec import WIRE_VERSION, DecodeError
from records.declared import (
    Bytes,
    Declared,
    EdSignature,
    Items,
    Optional,
    PublicKey,
    declare_record,
)

TxLookup = Callable[[bytes], bytes | None]
"""A transaction by its id, if this node holds it."""


def compute_tx_hash(tx: bytes) -> bytes:
    return hashlib.sha256(tx).digest()


class MissingTxs(Exception):
    """A compact proposal names transactions this node does not hold."""

    def __init__(self, tx_ids: tuple[bytes, ...]) -> None:
        self.tx_ids = tx_ids
        super().__init__(f"{len(tx_ids)} transactions of the proposal are not held here")


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class CompactProposal(Declared):
    """A `Proposal` whose block's transactions are ids, except the prefilled ones."""

    height: Height
    round: Round
    pol_round: PolRound
    header: BlockHeader
    tx_ids: Annotated[tuple[bytes | None, ...], Items(item=Optional(Bytes(HASH_BYTES)))]
    """One per transaction in block order: its id, or None where it is prefilled."""
    prefilled: Txs
    """The transactions sent in full, in block order."""
    last_commit: LastCommit
    evidence: Evidence
    proposer: PublicKey
    signature: EdSignature

    def __post_init__(self) -> None:
        # A decode error: only bytes from a peer can leave places and transactions unpaired.
        if sum(1 for i in self.tx_ids if i is None) != len(self.prefilled):
            raise DecodeError(
                "prefilled",
                f"{len(self.prefilled)} prefilled transactions for "
                f"{sum(1 for i in self.tx_ids if i is None)} places",
            )

    @property
    def block_hash(self) -> bytes:
        return self.header.hash

    def is_signed_by_proposer(self, chain_id: str) -> bool:
        """The full proposal's check: the signature covers the block hash alone."""
        sign_bytes = compute_proposal_sign_bytes(
            chain_id, self.height, self.round, self.pol_round, self.block_hash
        )
        return is_valid_signature(self.proposer, sign_bytes, self.signature)

    def get_missing(self, lookup: TxLookup) -> tuple[bytes, ...]:
        """The ids `lookup` does not hold, each once."""
        missing = dict.fromkeys(i for i in self.tx_ids if i is not None and lookup(i) is None)
        return tuple(missing)

    def assemble(self, lookup: TxLookup) -> Proposal:
        """The full proposal, its transactions from the prefilled ones and `lookup`.
        Raises MissingTxs naming every id `lookup` lacks."""
        txs = resolve_tx_ids(self.tx_ids, self.prefilled, lookup)
        block = Block(self.header, tuple(txs), self.last_commit, self.evidence)
        return Proposal(
            self.height, self.round, self.pol_round, block, self.proposer, self.signature
        )


def resolve_tx_ids(
    tx_ids: Sequence[bytes | None], prefilled: Iterable[bytes], lookup: TxLookup
) -> list[bytes]:
    """A compact block's transactions: each id's from `lookup`, the next of `prefilled`
    where the id is None. Raises MissingTxs naming, each once, every id `lookup` lacks."""
    txs: list[bytes] = []
    missing: list[bytes] = []
    filled = iter(prefilled)
    for tx_id in tx_ids:
        tx = next(filled) if tx_id is None else lookup(tx_id)
        if tx is None:
            assert tx_id is not None
            missing.append(tx_id)
        else:
            txs.append(tx)
    if missing:
        raise MissingTxs(tuple(dict.fromkeys(missing)))
    return txs


def make_compact(proposal: Proposal, is_held: Callable[[bytes], bool]) -> CompactProposal:
    """`proposal` with each transaction `is_held` says the peers hold as its id (BIP 152
    prefills what the receiver cannot have, as the coinbase; ours are what the proposer
    added itself rather than took from its gossiped mempool)."""
    tx_ids: list[bytes | None] = []
    prefilled: list[bytes] = []
    for tx in proposal.block.txs:
        tx_id = compute_tx_hash(tx)
        if is_held(tx_id):
            tx_ids.append(tx_id)
        else:
            tx_ids.append(None)
            prefilled.append(tx)
    block = proposal.block
    return CompactProposal(
        proposal.height, proposal.round, proposal.pol_round, block.header, tuple(tx_ids),
        tuple(prefilled), block.last_commit, block.evidence, proposal.proposer,
        proposal.signature,
    )  # fmt: skip


def index_txs(txs: Sequence[bytes]) -> dict[bytes, bytes]:
    """`txs` by id."""
    return {compute_tx_hash(tx): tx for tx in txs}
