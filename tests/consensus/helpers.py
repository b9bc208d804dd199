"""Drive one pure state machine with votes and proposals signed by test keys."""

from __future__ import annotations

from dataclasses import replace

from consensus.effects import Effect
from consensus.inputs import BlockPrepared, BlockValidated, Input, ProposalReceived, StartHeight
from consensus.sim.simulator import make_key
from consensus.state_machine import ConsensusState, TimeoutConfig, apply, initial_state
from consensus.types import (
    ZERO_HASH,
    Block,
    BlockHeader,
    DuplicateVoteEvidence,
    Proposal,
    ValidatorSet,
    Vote,
    Voter,
    VoteType,
    compute_txs_hash,
)
from lightclient.crypto import PrivateKey

CHAIN = "test-chain"
KEYS = [make_key(i) for i in range(4)]
VALIDATORS = ValidatorSet.from_validators(
    [Voter(f"v{i}", k.public_key, 1) for i, k in enumerate(KEYS)]
)


def key_of(public_key: bytes) -> PrivateKey:
    return next(k for k in KEYS if k.public_key == public_key)


NEXT_VALIDATORS = VALIDATORS.next_height()


def make_block(txs: tuple[bytes, ...], proposer: bytes, height: int = 1) -> Block:
    """A first block (no last commit) of the helpers' sets."""
    header = BlockHeader(
        CHAIN, height, 10, ZERO_HASH, b"root", compute_txs_hash(txs), proposer,
        validators_hash=VALIDATORS.hash, next_validators_hash=NEXT_VALIDATORS.hash,
    )  # fmt: skip
    return Block(header, txs, None)


def signed_vote(i: int, vote_type: VoteType, round_: int, block_hash: bytes | None) -> Vote:
    vote = Vote(vote_type, 1, round_, block_hash, KEYS[i].public_key)
    return replace(vote, signature=KEYS[i].sign(vote.sign_bytes(CHAIN)))


def make_equivocation(i: int = 0) -> DuplicateVoteEvidence:
    """Validator `i`'s two prevotes for different blocks at height 1, round 0."""
    return DuplicateVoteEvidence.from_votes(
        signed_vote(i, VoteType.PREVOTE, 0, b"\x01" * 32),
        signed_vote(i, VoteType.PREVOTE, 0, b"\x02" * 32),
    )


def signed_proposal(round_: int, block: Block, pol_round: int = -1) -> Proposal:
    proposer = VALIDATORS.get_proposer(round_).public_key
    p = Proposal(1, round_, pol_round, block, proposer)
    return replace(p, signature=key_of(proposer).sign(p.sign_bytes(CHAIN)))


class Driver:
    """One validator (not the round-0 or round-1 proposer) fed inputs by hand."""

    def __init__(self) -> None:
        proposers = {VALIDATORS.get_proposer(r).public_key for r in (0, 1)}
        self.me = next(i for i, k in enumerate(KEYS) if k.public_key not in proposers)
        self.state: ConsensusState = initial_state(
            CHAIN, KEYS[self.me].public_key, VALIDATORS, TimeoutConfig()
        )
        self.effects: list[Effect] = []
        self.feed(StartHeight(1, VALIDATORS, NEXT_VALIDATORS, ZERO_HASH, b"root", 0, None))

    def others(self) -> list[int]:
        return [i for i in range(4) if i != self.me]

    def feed(self, inp: Input) -> list[Effect]:
        self.state, effects = apply(self.state, inp)
        self.effects += effects
        return effects

    def propose(
        self,
        round_: int,
        block: Block,
        pol_round: int = -1,
        valid: bool = True,
        received_ms: int | None = None,
    ) -> list[Effect]:
        """`received_ms`: this node's clock when the proposal came (None: not judged)."""
        proposal = signed_proposal(round_, block, pol_round)
        effects = self.feed(ProposalReceived(proposal, received_ms))
        return effects + self.feed(BlockValidated(1, block.hash, valid))


__all__ = ["BlockPrepared", "Driver", "make_block", "signed_vote"]
