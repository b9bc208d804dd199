"""Consensus records: validators, votes, proposals, blocks (headers and commit
certificates live in lightclient/, which a verifier uses without consensus).

Votes, evidence, blocks and proposals are declared records (records/declared.py):
their wire form, a list headed by the format version, is their annotated fields
(`to_fields` / `from_fields`; `encode` / `decode` pack them). What a validator signs is
domain-separated per record kind and bound to the chain id, so a signature
can never be replayed on another chain or as another kind of message.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from lightclient.commit import (
    CommitCertificate,
    CommitSig,
    InvalidCommit,
    VoteType,
    compute_vote_sign_bytes,
    has_quorum,
)
from lightclient.crypto import (
    HASH_BYTES,
    PUBLIC_KEY_BYTES,
    compute_hash,
    is_valid_signature,
)
from lightclient.header import ZERO_HASH, BlockHeader, compute_validators_hash
from records.codec import (
    MAX_CONSENSUS_MESSAGE_BYTES,
    MAX_EVIDENCE_PER_BLOCK,
    MAX_INT64,
    MAX_TEXT_CHARS,
    MAX_VALIDATORS,
    WIRE_VERSION,
    expect_bytes,
    expect_list,
    pack,
    unpack,
)
from records.declared import (
    BigInt,
    Bytes,
    Checked,
    Choice,
    Declared,
    EdSignature,
    Int,
    Items,
    Nested,
    Optional,
    PublicKey,
    Str,
    Uint,
    declare_record,
)

MAX_BLOCK_ENVELOPE_BYTES = 1024 * 1024
"""Bound on what a proposal message holds besides its transactions: the proposal's
fields, the header, a last commit of MAX_VALIDATORS signatures and MAX_EVIDENCE_PER_BLOCK
evidence (tests encode all of them at their maximum)."""
TX_FRAME_BYTES = 5
"""What one transaction adds to a block's encoding beyond its bytes (msgpack bin32 header)."""


def compute_max_proposal_bytes(max_block_bytes: int, max_block_txs: int) -> int:
    """Largest encoded proposal whose block holds at most `max_block_txs` transactions
    of at most `max_block_bytes` in total."""
    return max_block_bytes + max_block_txs * TX_FRAME_BYTES + MAX_BLOCK_ENVELOPE_BYTES


NIL_ROUND = -1

Height = Annotated[int, Int(1, MAX_INT64)]
Round = Annotated[int, Int(0, 2**31)]
PolRound = Annotated[int, Int(NIL_ROUND, 2**31)]

DOMAIN_PROPOSAL = b"clearnode/consensus/proposal/v1\x00"
DOMAIN_TX_LEAF = b"\x00"
DOMAIN_TX_NODE = b"\x01"


class Step(enum.IntEnum):
    """Round steps in order; also the step of a signature for the signer guard."""

    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


# --------------------------------------------------------------------------- validators


@declare_record
@dataclass(frozen=True)
class Voter(Declared):
    """A member of a validator set as consensus counts it: a named Ed25519 consensus key
    with positive voting power. (The validator's whole record, with its bridge key and
    peer id, is clearing's `clearing.genesis.Validator`; the node makes a set of voters
    from the records in force, `ClearingApp.get_validator_update`.)"""

    name: Annotated[str, Str(MAX_TEXT_CHARS)]
    public_key: PublicKey
    power: Annotated[int, Int(1)]

    def __post_init__(self) -> None:
        if len(self.public_key) != PUBLIC_KEY_BYTES:
            raise ValueError(f"validator {self.name}: key is {len(self.public_key)} bytes, need 32")
        if self.power <= 0:
            raise ValueError(f"validator {self.name}: power {self.power} must be positive")


def _check_validators(validators: tuple[Voter, ...] | list[Voter]) -> tuple[Voter, ...]:
    vals = tuple(validators)
    if not vals or len(vals) > MAX_VALIDATORS:
        raise ValueError(f"validator set needs 1..{MAX_VALIDATORS} validators, got {len(vals)}")
    if len({v.public_key for v in vals}) != len(vals):
        raise ValueError("validator set has a duplicate public key")
    return vals


def _trunc_div(a: int, b: int) -> int:
    """Integer division rounding toward zero (Go semantics, as CometBFT)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


@declare_record
@dataclass(frozen=True)  # no slots: cached properties
class ValidatorSet(Declared):
    """Validators with CometBFT's weighted round-robin proposer priorities.

    Invariant: `proposer` is the validator chosen by the last priority
    increment, so `ValidatorSet.from_validators(v).proposer` is the proposer of
    the first height's round 0 and `next_height()` advances one height. A priority may
    pass 64 bits when the total power is that large.
    """

    validators: Annotated[tuple[Voter, ...], Items(1, MAX_VALIDATORS)]
    priorities: Annotated[tuple[int, ...], Items(1, MAX_VALIDATORS, BigInt())]
    proposer_index: Uint

    @staticmethod
    def from_validators(validators: tuple[Voter, ...] | list[Voter]) -> ValidatorSet:
        vals = _check_validators(validators)
        start = ValidatorSet(vals, tuple(0 for _ in vals), 0)
        return start.compute_incremented(1)

    @cached_property
    def total_power(self) -> int:
        return sum(v.power for v in self.validators)

    @cached_property
    def hash(self) -> bytes:
        """What headers commit to (`validators_hash`, `next_validators_hash`)."""
        return compute_validators_hash((v.public_key, v.power) for v in self.validators)

    @cached_property
    def _power_by_key(self) -> Mapping[bytes, int]:
        return {v.public_key: v.power for v in self.validators}

    def get_power(self, public_key: bytes) -> int:
        """Voting power of `public_key`; 0 for a key outside the set."""
        return self._power_by_key.get(public_key, 0)

    def is_member(self, public_key: bytes) -> bool:
        return public_key in self._power_by_key

    def is_quorum(self, power: int) -> bool:
        return has_quorum(power, self.total_power)

    def is_one_third(self, power: int) -> bool:
        """At least f+1: strictly more than 1/3 of total power (cross-multiplied)."""
        return 3 * power > self.total_power

    @property
    def proposer(self) -> Voter:
        return self.validators[self.proposer_index]

    def compute_incremented(self, times: int) -> ValidatorSet:
        """CometBFT IncrementProposerPriority: rescale, centre, then `times` rotations."""
        total = self.total_power
        prios = list(self.priorities)
        diff = max(prios) - min(prios)
        window = 2 * total
        if diff > window:
            ratio = -(-diff // window)
            prios = [_trunc_div(p, ratio) for p in prios]
        avg = sum(prios) // len(prios)
        prios = [p - avg for p in prios]
        index = self.proposer_index
        for _ in range(times):
            prios = [p + v.power for p, v in zip(prios, self.validators, strict=True)]
            # Highest priority wins; ties go to the smaller key (CometBFT: smaller address).
            index = min(range(len(prios)), key=lambda i: (-prios[i], self.validators[i].public_key))
            prios[index] -= total
        return ValidatorSet(self.validators, tuple(prios), index)

    def get_proposer(self, round_: int) -> Voter:
        """Proposer of `round_` at this set's height."""
        return self.proposer if round_ == 0 else self.compute_incremented(round_).proposer

    def next_height(self) -> ValidatorSet:
        return self.compute_incremented(1)

    def compute_updated(self, validators: tuple[Voter, ...]) -> ValidatorSet:
        """The next height's set when the application changed it to `validators` (as
        CometBFT's updateWithChangeSet, then one increment): a validator that stays keeps
        its priority, a new one starts at -1.125 times the new total power (behind every
        validator already queued), and priorities are rescaled and centred as always."""
        vals = _check_validators(validators)
        kept = dict(zip((v.public_key for v in self.validators), self.priorities, strict=True))
        total = sum(v.power for v in vals)
        joining = -(total + (total >> 3))
        prios = tuple(kept.get(v.public_key, joining) for v in vals)
        return ValidatorSet(vals, prios, 0).compute_incremented(1)


# --------------------------------------------------------------------------- votes


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class Vote(Declared):
    """A prevote or precommit; `block_hash is None` is a nil vote."""

    vote_type: Annotated[VoteType, Choice()]
    height: Height
    round: Round
    block_hash: Annotated[bytes | None, Optional(Bytes(HASH_BYTES))]
    validator: PublicKey
    signature: EdSignature = b""

    def sign_bytes(self, chain_id: str) -> bytes:
        return compute_vote_sign_bytes(
            chain_id, self.vote_type, self.height, self.round, self.block_hash
        )

    def is_signed_by_validator(self, chain_id: str) -> bool:
        return is_valid_signature(self.validator, self.sign_bytes(chain_id), self.signature)

    @property
    def step(self) -> Step:
        return Step.PREVOTE if self.vote_type == VoteType.PREVOTE else Step.PRECOMMIT

    @staticmethod
    def decode(data: bytes) -> Vote:
        return Vote.from_fields(unpack(data, "vote", 1024))


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class DuplicateVoteEvidence(Declared):
    """Two different votes by one validator for the same (height, round, type).

    Canonical order (by signature bytes) makes equal evidence encode equally.
    Validity (signatures, conflict, membership) is checked by
    `consensus.evidence.verify_duplicate_vote`.
    """

    vote_a: Vote
    vote_b: Vote

    @staticmethod
    def from_votes(a: Vote, b: Vote) -> DuplicateVoteEvidence:
        return DuplicateVoteEvidence(*sorted((a, b), key=lambda v: v.signature))

    @property
    def validator(self) -> bytes:
        return self.vote_a.validator

    @property
    def height(self) -> int:
        return self.vote_a.height

    @cached_property
    def hash(self) -> bytes:
        return compute_hash(self.encode())


# --------------------------------------------------------------------------- commits


def compute_commit_certificate(
    height: int, round_: int, block_hash: bytes, precommits: Mapping[bytes, Vote]
) -> CommitCertificate:
    """Certificate from the precommits for `block_hash`, in key order (canonical)."""
    sigs = tuple(
        CommitSig(k, precommits[k].signature)
        for k in sorted(precommits)
        if precommits[k].block_hash == block_hash
    )
    return CommitCertificate(height, round_, block_hash, sigs)


# --------------------------------------------------------------------------- blocks


def compute_txs_hash(txs: tuple[bytes, ...]) -> bytes:
    """Merkle root (RFC 6962 style: domain-tagged leaves and nodes, odd node promoted)."""
    sha = hashlib.sha256
    level = [sha(DOMAIN_TX_LEAF + tx).digest() for tx in txs]
    if not level:
        return sha(b"").digest()
    while len(level) > 1:
        nxt = [
            sha(DOMAIN_TX_NODE + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def compute_evidence_hash(evidence: tuple[DuplicateVoteEvidence, ...]) -> bytes:
    return compute_hash(*(e.hash for e in evidence))


def compute_last_commit_hash(last_commit: CommitCertificate | None) -> bytes:
    return ZERO_HASH if last_commit is None else last_commit.hash


def read_txs(obj: object, what: str) -> tuple[bytes, ...]:
    """A block's transactions: bytes each, the packet's own bound their length (one type
    test per transaction, the call only for the one refused)."""
    txs = expect_list(obj, what)
    for tx in txs:
        if type(tx) is not bytes:
            expect_bytes(tx, what)
    return tuple(txs)


LastCommit = Annotated[CommitCertificate | None, Optional(Nested(CommitCertificate))]
Txs = Annotated[tuple[bytes, ...], Checked(read_txs, list)]
Evidence = Annotated[tuple[DuplicateVoteEvidence, ...], Items(max_length=MAX_EVIDENCE_PER_BLOCK)]


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class Block(Declared):
    """A header and the body it commits to; `hash` is the header hash."""

    header: BlockHeader
    txs: Txs
    last_commit: LastCommit
    evidence: Evidence = ()

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @cached_property
    def is_body_consistent(self) -> bool:
        """The header's txs, last-commit and evidence hashes match the body."""
        return (
            self.header.txs_hash == compute_txs_hash(self.txs)
            and self.header.last_commit_hash == compute_last_commit_hash(self.last_commit)
            and self.header.evidence_hash == compute_evidence_hash(self.evidence)
        )

    @staticmethod
    def decode(data: bytes) -> Block:
        return Block.from_fields(unpack(data, "block", MAX_CONSENSUS_MESSAGE_BYTES))


# --------------------------------------------------------------------------- proposals


def compute_proposal_sign_bytes(
    chain_id: str, height: int, round_: int, pol_round: int, block_hash: bytes
) -> bytes:
    return DOMAIN_PROPOSAL + pack([WIRE_VERSION, chain_id, height, round_, pol_round, block_hash])


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class Proposal(Declared):
    """<PROPOSAL, h, r, v, vr> signed by `proposer`; `pol_round` is -1 for a fresh value."""

    height: Height
    round: Round
    pol_round: PolRound
    block: Block
    proposer: PublicKey
    signature: EdSignature = b""

    def sign_bytes(self, chain_id: str) -> bytes:
        return compute_proposal_sign_bytes(
            chain_id, self.height, self.round, self.pol_round, self.block.hash
        )

    def is_signed_by_proposer(self, chain_id: str) -> bool:
        return is_valid_signature(self.proposer, self.sign_bytes(chain_id), self.signature)

    @staticmethod
    def decode(data: bytes) -> Proposal:
        return Proposal.from_fields(unpack(data, "proposal", MAX_CONSENSUS_MESSAGE_BYTES))


__all__ = [
    "MAX_BLOCK_ENVELOPE_BYTES",
    "NIL_ROUND",
    "ZERO_HASH",
    "Block",
    "BlockHeader",
    "CommitCertificate",
    "CommitSig",
    "DuplicateVoteEvidence",
    "InvalidCommit",
    "Proposal",
    "Step",
    "ValidatorSet",
    "Vote",
    "VoteType",
    "Voter",
    "compute_commit_certificate",
    "compute_max_proposal_bytes",
    "compute_txs_hash",
]
