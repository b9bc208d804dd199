"""Tendermint (Buchman, Kwon, Milosevic 2018, Algorithm 1) as a pure function.

`apply(state, input) -> (state, effects)` never performs I/O, reads no clock
and uses no randomness: the host executes the returned effects. After every
input the `upon` rules of the paper are evaluated to a fixpoint; each rule is
labelled with the paper's line (L11 StartRound, L22, L28, L34, L36, L44,
L47, L49, L55, L57, L61, L65).

A block's time is its proposer's clock, so L22 also asks that a new proposal be
timely (CometBFT's proposer-based timestamps, the bound ahead): its time at most
`PROPOSAL_TIME_PRECISION_MS` ahead of this node's clock when it arrived (the host
stamps `ProposalReceived.received_ms`). Otherwise one proposer, byzantine or with
its clock wrong, could move the chain's time as far ahead as it likes in one block,
and with it every deadline clearing keeps: funding intervals, expiries, request
and withdrawal lifetimes. A re-proposal (L28) carries a value 2f+1 prevoted, which
was timely to them, and is not judged again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from consensus.effects import (
    Broadcast,
    Commit,
    Effect,
    EvidenceFound,
    RequestProposal,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    ValidateBlock,
)
from consensus.evidence import is_valid_duplicate_vote
from consensus.inputs import (
    BlockPrepared,
    BlockValidated,
    Input,
    ProposalReceived,
    ProposalSigned,
    StartHeight,
    TimeoutFired,
    VoteReceived,
    VoteSigned,
)
from consensus.types import (
    NIL_ROUND,
    ZERO_HASH,
    Block,
    BlockHeader,
    CommitCertificate,
    DuplicateVoteEvidence,
    InvalidCommit,
    Proposal,
    Step,
    ValidatorSet,
    Vote,
    VoteType,
    compute_commit_certificate,
    compute_evidence_hash,
    compute_last_commit_hash,
    compute_txs_hash,
)

# Votes further ahead than this many rounds are dropped: bounds memory per height.
MAX_FUTURE_ROUNDS = 64
PROPOSAL_TIME_PRECISION_MS = 500
"""How far ahead of a validator's clock a new proposal's time may be: the validators'
clocks differ by less (NTP keeps them within tens of ms), as CometBFT's default
`precision` (505 ms) assumes."""
MAX_VALUES_PER_SLOT = 3

VoteKey = tuple[int, VoteType]
Effects = list[Effect]


@dataclass(frozen=True)
class TimeoutConfig:
    """A network's consensus timeouts, on either engine (the node's `[consensus]` table):
    the three steps' (`get_duration_ms`), which grow linearly with the round so that after
    GST they exceed delays, then the host's two waits around a height."""

    propose_ms: int = 3_000
    propose_delta_ms: int = 500
    prevote_ms: int = 1_000
    prevote_delta_ms: int = 500
    precommit_ms: int = 1_000
    precommit_delta_ms: int = 500
    commit_ms: int = 0
    """Pause after a commit before the next height (CometBFT's `timeout_commit`)."""
    empty_block_wait_ms: int = 0
    """A proposer finding no transaction waits up to this long for one (idle networks do
    not spin through empty heights); keep it below the propose timeout, which the other
    validators run meanwhile."""

    def get_duration_ms(self, step: Step, round_: int) -> int:
        if step == Step.PROPOSE:
            return self.propose_ms + round_ * self.propose_delta_ms
        if step == Step.PREVOTE:
            return self.prevote_ms + round_ * self.prevote_delta_ms
        return self.precommit_ms + round_ * self.precommit_delta_ms


@dataclass(frozen=True)
class ConsensusState:
    """Everything one validator knows at its current height.

    Collections are never mutated: each change copies the affected mapping.
    `own_key is None` makes a non-validator (full node) that follows but never signs.
    """

    chain_id: str
    own_key: bytes | None
    validators: ValidatorSet
    timeouts: TimeoutConfig = field(default_factory=TimeoutConfig)
    next_validators_hash: bytes = ZERO_HASH
    height: int = 0
    round: int = 0
    step: Step = Step.PROPOSE
    prev_block_hash: bytes = ZERO_HASH
    prev_state_root: bytes = b""
    prev_time_ms: int = 0
    last_commit: CommitCertificate | None = None
    past_validators: Mapping[int, ValidatorSet] = field(default_factory=dict)
    locked_value: Block | None = None
    locked_round: int = NIL_ROUND
    valid_value: Block | None = None
    valid_round: int = NIL_ROUND
    decided: bool = False
    proposals: Mapping[int, Proposal] = field(default_factory=dict)
    # Per validator, every distinct value it voted for (an equivocator's votes all count,
    # as they would at the nodes that saw only one of them), at most MAX_VALUES_PER_SLOT.
    votes: Mapping[VoteKey, Mapping[bytes, tuple[Vote, ...]]] = field(default_factory=dict)
    validity: Mapping[bytes, bool] = field(default_factory=dict)
    untimely: frozenset[int] = frozenset()  # rounds whose new proposal came too far ahead
    fired: frozenset[tuple[str, int]] = frozenset()
    validating: frozenset[bytes] = frozenset()
    reported_evidence: frozenset[bytes] = frozenset()


def initial_state(
    chain_id: str, own_key: bytes | None, validators: ValidatorSet, timeouts: TimeoutConfig
) -> ConsensusState:
    return ConsensusState(chain_id, own_key, validators, timeouts)


# --------------------------------------------------------------------------- reads


def get_votes(
    state: ConsensusState, round_: int, vote_type: VoteType
) -> Mapping[bytes, tuple[Vote, ...]]:
    return state.votes.get((round_, vote_type), {})


def get_power_for(
    state: ConsensusState, round_: int, vote_type: VoteType, block_hash: bytes | None
) -> int:
    return sum(
        state.validators.get_power(k)
        for k, votes in get_votes(state, round_, vote_type).items()
        if any(v.block_hash == block_hash for v in votes)
    )


def get_power_any(state: ConsensusState, round_: int, vote_type: VoteType) -> int:
    return sum(state.validators.get_power(k) for k in get_votes(state, round_, vote_type))


def is_quorum_for(
    state: ConsensusState, round_: int, vote_type: VoteType, block_hash: bytes | None
) -> bool:
    return state.validators.is_quorum(get_power_for(state, round_, vote_type, block_hash))


def is_valid_value(state: ConsensusState, block: Block) -> bool:
    """valid(v): structurally sound for this height and accepted by the application."""
    return state.validity.get(block.hash) is True


def is_timely(proposal: Proposal, received_ms: int) -> bool:
    """timely(proposal), its bound ahead: a re-proposal (with a proof-of-lock round) always
    is; a new one if its block's time is at most the precision ahead of `received_ms`."""
    if proposal.pol_round != NIL_ROUND:
        return True
    return proposal.block.header.time_ms <= received_ms + PROPOSAL_TIME_PRECISION_MS


def is_propose_over(state: ConsensusState, round_: int) -> bool:
    """Whether this node is past the propose step of `round_` (it prevoted, or moved on)."""
    return state.round > round_ or (state.round == round_ and state.step != Step.PROPOSE)


def get_proposer_key(state: ConsensusState, round_: int) -> bytes:
    return state.validators.get_proposer(round_).public_key


def is_own_proposer(state: ConsensusState, round_: int) -> bool:
    return state.own_key is not None and state.own_key == get_proposer_key(state, round_)


def compute_block_error(state: ConsensusState, block: Block) -> str | None:
    """Why `block` cannot be this height's block, or None if it is structurally sound."""
    h = block.header
    if h.chain_id != state.chain_id:
        return f"chain id {h.chain_id!r} != {state.chain_id!r}"
    if h.height != state.height:
        return f"height {h.height} != {state.height}"
    if h.prev_block_hash != state.prev_block_hash:
        return "prev_block_hash does not match our last block"
    if h.prev_state_root != state.prev_state_root:
        return "prev_state_root does not match our state root"
    if h.time_ms <= state.prev_time_ms:
        return f"time_ms {h.time_ms} not after parent's {state.prev_time_ms}"
    if not state.validators.is_member(h.proposer):
        return "proposer is not a validator"
    if (h.validators_hash, h.next_validators_hash) != (
        state.validators.hash,
        state.next_validators_hash,
    ):
        return "validator set hashes do not match this height's and the next's sets"
    if not block.is_body_consistent:
        return "header hashes do not match the body"
    return _compute_last_commit_error(state, block) or _compute_evidence_error(state, block)


def _compute_last_commit_error(state: ConsensusState, block: Block) -> str | None:
    if state.height == 1:
        return None if block.last_commit is None else "first block carries a last commit"
    commit = block.last_commit
    if commit is None:
        return "missing last commit"
    if commit.height != state.height - 1 or commit.block_hash != state.prev_block_hash:
        return "last commit is not for our previous block"
    signers = state.past_validators.get(state.height - 1)
    if signers is None:
        return f"no validator set of height {state.height - 1}"
    try:
        commit.verify(state.chain_id, signers)
    except InvalidCommit as exc:
        return str(exc)
    return None


def _compute_evidence_error(state: ConsensusState, block: Block) -> str | None:
    if len({e.hash for e in block.evidence}) != len(block.evidence):
        return "duplicate evidence"
    for ev in block.evidence:
        validators = state.past_validators.get(ev.height) if ev.height < state.height else None
        if validators is None:
            return f"evidence of height {ev.height} is not of the last heights we keep sets of"
        if not is_valid_duplicate_vote(state.chain_id, validators, ev):
            return "invalid evidence"
    return None


# --------------------------------------------------------------------------- apply


def apply(state: ConsensusState, inp: Input) -> tuple[ConsensusState, Effects]:
    """The whole transition: record the input, then fire every enabled rule."""
    effects: Effects = []
    if isinstance(inp, StartHeight):
        state = process_start_height(state, inp, effects)
    elif state.height == 0 or state.decided:
        return state, effects
    elif isinstance(inp, ProposalReceived):
        state = process_proposal(state, inp.proposal, False, effects, inp.received_ms)
    elif isinstance(inp, ProposalSigned):
        state = process_proposal(state, inp.proposal, True, effects)
    elif isinstance(inp, VoteReceived | VoteSigned):
        state = process_vote(state, inp.vote, isinstance(inp, VoteSigned), effects)
    elif isinstance(inp, TimeoutFired):
        state = process_timeout(state, inp, effects)
    elif isinstance(inp, BlockPrepared):
        state = process_block_prepared(state, inp, effects)
    elif isinstance(inp, BlockValidated):
        if inp.height == state.height and inp.block_hash not in state.validity:
            state = replace(state, validity={**state.validity, inp.block_hash: inp.valid})
    return process_rules(state, effects), effects


def process_start_height(
    state: ConsensusState, inp: StartHeight, effects: Effects
) -> ConsensusState:
    """Reset for a new height (L10: h_p ← h_p + 1) and StartRound(0)."""
    fresh = ConsensusState(
        chain_id=state.chain_id,
        own_key=state.own_key,
        validators=inp.validators,
        timeouts=state.timeouts,
        height=inp.height,
        prev_block_hash=inp.prev_block_hash,
        prev_state_root=inp.prev_state_root,
        prev_time_ms=inp.prev_time_ms,
        last_commit=inp.last_commit,
        past_validators=inp.past_validators,
        next_validators_hash=inp.next_validators.hash,
    )
    return start_round(fresh, 0, effects)


def start_round(state: ConsensusState, round_: int, effects: Effects) -> ConsensusState:
    """L11 StartRound(round): the proposer re-proposes validValue or asks for a new block."""
    state = replace(state, round=round_, step=Step.PROPOSE)
    if is_own_proposer(state, round_):
        if state.valid_value is not None:  # L15
            effects.append(SignProposal(_own_proposal(state, state.valid_value, state.valid_round)))
        else:  # L18
            effects.append(RequestProposal(state.height, round_))
    # L21: everyone schedules OnTimeoutPropose (the proposer too, in case the app stalls).
    effects.append(_schedule(state, Step.PROPOSE))
    return state


def _own_proposal(state: ConsensusState, block: Block, pol_round: int) -> Proposal:
    assert state.own_key is not None
    return Proposal(state.height, state.round, pol_round, block, state.own_key)


def _schedule(state: ConsensusState, step: Step) -> ScheduleTimeout:
    return ScheduleTimeout(
        state.height, state.round, step, state.timeouts.get_duration_ms(step, state.round)
    )


def process_block_prepared(
    state: ConsensusState, inp: BlockPrepared, effects: Effects
) -> ConsensusState:
    """L18-L19: getValue() answered; build and ask to sign our proposal for this round."""
    if (
        (inp.height, inp.round) != (state.height, state.round)
        or state.step != Step.PROPOSE
        or not is_own_proposer(state, state.round)
        or state.valid_value is not None
        or ("proposed", state.round) in state.fired
    ):
        return state
    assert state.own_key is not None
    header = BlockHeader(
        chain_id=state.chain_id,
        height=state.height,
        time_ms=max(inp.time_ms, state.prev_time_ms + 1),
        prev_block_hash=state.prev_block_hash,
        prev_state_root=state.prev_state_root,
        txs_hash=compute_txs_hash(inp.txs),
        proposer=state.own_key,
        last_commit_hash=compute_last_commit_hash(state.last_commit),
        evidence_hash=compute_evidence_hash(inp.evidence),
        validators_hash=state.validators.hash,
        next_validators_hash=state.next_validators_hash,
    )
    block = Block(header, inp.txs, state.last_commit, inp.evidence)
    effects.append(SignProposal(_own_proposal(state, block, NIL_ROUND)))
    # Our own block was prepared by our application: no need to ask it again.
    return replace(
        state,
        fired=state.fired | {("proposed", state.round)},
        validity={**state.validity, block.hash: True},
    )


def process_proposal(
    state: ConsensusState,
    proposal: Proposal,
    own: bool,
    effects: Effects,
    received_ms: int | None = None,
) -> ConsensusState:
    """Keep the first correctly signed proposal of proposer(h, r) per round, noting whether
    it came timely (`received_ms`: this node's clock then; None, a WAL record from before
    it was kept, is not judged); ask to validate it."""
    if (
        proposal.height != state.height
        or proposal.round in state.proposals
        or proposal.round > state.round + MAX_FUTURE_ROUNDS
        or not NIL_ROUND <= proposal.pol_round < proposal.round
        or proposal.proposer != get_proposer_key(state, proposal.round)
        or not proposal.is_signed_by_proposer(state.chain_id)
    ):
        return state
    state = replace(state, proposals={**state.proposals, proposal.round: proposal})
    if received_ms is not None and not is_timely(proposal, received_ms):
        state = replace(state, untimely=state.untimely | {proposal.round})
    if own:
        effects.append(Broadcast(proposal))
    block = proposal.block
    if block.hash in state.validity or block.hash in state.validating:
        return state
    if compute_block_error(state, block) is not None:
        return replace(state, validity={**state.validity, block.hash: False})
    effects.append(ValidateBlock(block))
    return replace(state, validating=state.validating | {block.hash})


def process_vote(state: ConsensusState, vote: Vote, own: bool, effects: Effects) -> ConsensusState:
    """Record a vote of this height; a conflicting second vote becomes evidence."""
    if (
        vote.height != state.height
        or vote.round > state.round + MAX_FUTURE_ROUNDS
        or not state.validators.is_member(vote.validator)
    ):
        return state
    if holds_vote(state, vote) or not vote.is_signed_by_validator(state.chain_id):
        return state
    key = (vote.round, vote.vote_type)
    existing = state.votes.get(key, {})
    previous = existing.get(vote.validator, ())
    if previous:
        state = _report_equivocation(state, previous[0], vote, effects)
        if len(previous) >= MAX_VALUES_PER_SLOT:
            return state
    slot = (*previous, vote)
    state = replace(state, votes={**state.votes, key: {**existing, vote.validator: slot}})
    if own:
        effects.append(Broadcast(vote))
    return state


def holds_vote(state: ConsensusState, vote: Vote) -> bool:
    """Whether `vote`'s validator has this vote, or one for the same value, recorded: a
    copy re-gossiped by a peer, which changes nothing (the engine logs no input for it)."""
    previous = get_votes(state, vote.round, vote.vote_type).get(vote.validator, ())
    return any(v.signature == vote.signature or v.block_hash == vote.block_hash for v in previous)


def _report_equivocation(
    state: ConsensusState, first: Vote, second: Vote, effects: Effects
) -> ConsensusState:
    evidence = DuplicateVoteEvidence.from_votes(first, second)
    if evidence.hash in state.reported_evidence:
        return state
    effects.append(EvidenceFound(evidence))
    return replace(state, reported_evidence=state.reported_evidence | {evidence.hash})


def process_timeout(state: ConsensusState, t: TimeoutFired, effects: Effects) -> ConsensusState:
    if (t.height, t.round) != (state.height, state.round):
        return state
    if t.step == Step.PROPOSE and state.step == Step.PROPOSE:  # L57
        return _vote(state, VoteType.PREVOTE, None, effects)
    if t.step == Step.PREVOTE and state.step == Step.PREVOTE:  # L61
        return _vote(state, VoteType.PRECOMMIT, None, effects)
    if t.step == Step.PRECOMMIT:  # L65
        return start_round(state, state.round + 1, effects)
    return state


def _vote(
    state: ConsensusState, vote_type: VoteType, block_hash: bytes | None, effects: Effects
) -> ConsensusState:
    """Cast our vote (if we are a validator of this height) and move to the matching step."""
    if state.own_key is not None and state.validators.is_member(state.own_key):
        effects.append(
            SignVote(Vote(vote_type, state.height, state.round, block_hash, state.own_key))
        )
    step = Step.PREVOTE if vote_type == VoteType.PREVOTE else Step.PRECOMMIT
    return replace(state, step=step)


# --------------------------------------------------------------------------- upon rules


def process_rules(state: ConsensusState, effects: Effects) -> ConsensusState:
    """Fire enabled rules until none is: each rule changes state when it fires."""
    while True:
        for rule in _RULES:
            after = rule(state, effects)
            if after is not state:
                state = after
                break
        else:
            return state
        if state.decided:
            return state


def rule_commit(state: ConsensusState, effects: Effects) -> ConsensusState:
    """L49: a proposal's value with 2f+1 precommits in its round, valid → decide."""
    blocks = {p.block.hash: p.block for p in state.proposals.values()}
    for round_, vote_type in state.votes:
        if vote_type != VoteType.PRECOMMIT:
            continue
        for block_hash, block in blocks.items():
            if is_quorum_for(state, round_, VoteType.PRECOMMIT, block_hash) and is_valid_value(
                state, block
            ):
                precommits = {
                    k: v
                    for k, votes in get_votes(state, round_, VoteType.PRECOMMIT).items()
                    for v in votes
                    if v.block_hash == block_hash
                }
                cert = compute_commit_certificate(state.height, round_, block_hash, precommits)
                effects.append(Commit(block, cert))
                return replace(state, decided=True)
    return state


def rule_skip_round(state: ConsensusState, effects: Effects) -> ConsensusState:
    """L55: f+1 of power sent messages for a higher round → StartRound(that round)."""
    rounds = {r for r, _ in state.votes if r > state.round} | {
        r for r in state.proposals if r > state.round
    }
    for round_ in sorted(rounds, reverse=True):
        senders = set(get_votes(state, round_, VoteType.PREVOTE)) | set(
            get_votes(state, round_, VoteType.PRECOMMIT)
        )
        if round_ in state.proposals:
            senders.add(state.proposals[round_].proposer)
        if state.validators.is_one_third(sum(state.validators.get_power(k) for k in senders)):
            return start_round(state, round_, effects)
    return state


def rule_prevote_proposal(state: ConsensusState, effects: Effects) -> ConsensusState:
    """L22 (fresh value) and L28 (value with a polka in round vr) while step = propose."""
    proposal = state.proposals.get(state.round)
    if state.step != Step.PROPOSE or proposal is None:
        return state
    block = proposal.block
    known = block.hash in state.validity
    if proposal.pol_round == NIL_ROUND:  # L22
        if not known:
            return state
        ok = (
            is_valid_value(state, block)
            and state.round not in state.untimely
            and (state.locked_round == NIL_ROUND or state.locked_value == block)
        )
        return _vote(state, VoteType.PREVOTE, block.hash if ok else None, effects)  # L24/L26
    vr = proposal.pol_round  # L28
    if not known or not is_quorum_for(state, vr, VoteType.PREVOTE, block.hash):
        return state
    ok = is_valid_value(state, block) and (state.locked_round <= vr or state.locked_value == block)
    return _vote(state, VoteType.PREVOTE, block.hash if ok else None, effects)  # L30/L32


def rule_schedule_prevote_timeout(state: ConsensusState, effects: Effects) -> ConsensusState:
    """L34: 2f+1 prevotes for anything, first time in this round → timeoutPrevote."""
    flag = ("L34", state.round)
    if (
        state.step != Step.PREVOTE
        or flag in state.fired
        or not state.validators.is_quorum(get_power_any(state, state.round, VoteType.PREVOTE))
    ):
        return state
    effects.append(_schedule(state, Step.PREVOTE))
    return replace(state, fired=state.fired | {flag})


def rule_lock(state: ConsensusState, effects: Effects) -> ConsensusState:
    """L36: the round's proposal has a polka and is valid → lock (if prevoting), set validValue."""
    flag = ("L36", state.round)
    proposal = state.proposals.get(state.round)
    if (
        flag in state.fired
        or proposal is None
        or state.step < Step.PREVOTE
        or not is_valid_value(state, proposal.block)
        or not is_quorum_for(state, state.round, VoteType.PREVOTE, proposal.block.hash)
    ):
        return state
    block = proposal.block
    state = replace(state, fired=state.fired | {flag})
    if state.step == Step.PREVOTE:  # L38-L41
        state = replace(state, locked_value=block, locked_round=state.round)
        state = _vote(state, VoteType.PRECOMMIT, block.hash, effects)
    return replace(state, valid_value=block, valid_round=state.round)  # L42-L43


def rule_precommit_nil(state: ConsensusState, effects: Effects) -> ConsensusState:
    """L44: 2f+1 nil prevotes while step = prevote → precommit nil."""
    if state.step != Step.PREVOTE or not is_quorum_for(state, state.round, VoteType.PREVOTE, None):
        return state
    return _vote(state, VoteType.PRECOMMIT, None, effects)


def rule_schedule_precommit_timeout(state: ConsensusState, effects: Effects) -> ConsensusState:
    """L47: 2f+1 precommits for anything, first time in this round → timeoutPrecommit."""
    flag = ("L47", state.round)
    if flag in state.fired or not state.validators.is_quorum(
        get_power_any(state, state.round, VoteType.PRECOMMIT)
    ):
        return state
    effects.append(_schedule(state, Step.PRECOMMIT))
    return replace(state, fired=state.fired | {flag})


_RULES = (
    rule_commit,
    rule_skip_round,
    rule_prevote_proposal,
    rule_lock,
    rule_precommit_nil,
    rule_schedule_prevote_timeout,
    rule_schedule_precommit_timeout,
)
