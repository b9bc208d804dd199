"""Rules of Algorithm 1, each test named by the paper line or fault shape it exercises."""

from __future__ import annotations

from dataclasses import replace

from consensus.effects import Commit, ScheduleTimeout, SignVote
from consensus.inputs import StartHeight, TimeoutFired, VoteReceived
from consensus.state_machine import (
    PROPOSAL_TIME_PRECISION_MS,
    TimeoutConfig,
    apply,
    compute_block_error,
    initial_state,
)
from consensus.types import (
    Block,
    BlockHeader,
    Step,
    ValidatorSet,
    Vote,
    Voter,
    VoteType,
    compute_commit_certificate,
    compute_evidence_hash,
    compute_txs_hash,
)
from tests.consensus.helpers import (
    CHAIN,
    KEYS,
    VALIDATORS,
    Driver,
    make_block,
    make_equivocation,
    signed_vote,
)


def _votes(effects: list[object]) -> list[SignVote]:
    return [e for e in effects if isinstance(e, SignVote)]


def test_l22_prevote_valid_proposal() -> None:
    d = Driver()
    block = make_block((b"a",), d.state.validators.get_proposer(0).public_key)
    (vote,) = _votes(d.propose(0, block))
    assert vote.vote.vote_type == VoteType.PREVOTE and vote.vote.block_hash == block.hash


def test_l22_prevote_nil_for_invalid_block() -> None:
    d = Driver()
    block = make_block((b"bad",), d.state.validators.get_proposer(0).public_key)
    (vote,) = _votes(d.propose(0, block, valid=False))
    assert vote.vote.block_hash is None


def test_l22_prevote_nil_for_a_new_proposal_further_ahead_than_the_precision() -> None:
    """Timely up to PROPOSAL_TIME_PRECISION_MS ahead of this node's clock (the helpers'
    blocks have time 10), not a millisecond more."""
    for received_ms, prevoted in ((10 - PROPOSAL_TIME_PRECISION_MS, True),
                                  (9 - PROPOSAL_TIME_PRECISION_MS, False)):  # fmt: skip
        d = Driver()
        block = make_block((b"a",), d.state.validators.get_proposer(0).public_key)
        (vote,) = _votes(d.propose(0, block, received_ms=received_ms))
        assert vote.vote.block_hash == (block.hash if prevoted else None)
        assert (0 in d.state.untimely) is not prevoted


def test_l28_a_reproposal_with_a_polka_is_not_judged_by_its_time() -> None:
    """2f+1 prevoted it in round 0 (timely to them): this node prevotes it in round 1
    however far ahead of its own clock the block's time is."""
    d = Driver()
    v = make_block((b"v",), d.state.validators.get_proposer(0).public_key)
    d.feed(TimeoutFired(1, 0, Step.PROPOSE))
    for i in d.others():
        d.feed(VoteReceived(signed_vote(i, VoteType.PREVOTE, 0, v.hash)))
    d.feed(TimeoutFired(1, 0, Step.PREVOTE))
    d.feed(TimeoutFired(1, 0, Step.PRECOMMIT))
    assert d.state.round == 1
    (vote,) = _votes(d.propose(1, v, pol_round=0, received_ms=-60_000))
    assert vote.vote.round == 1 and vote.vote.block_hash == v.hash


def test_l57_timeout_propose_prevotes_nil() -> None:
    d = Driver()
    (vote,) = _votes(d.feed(TimeoutFired(1, 0, Step.PROPOSE)))
    assert vote.vote.block_hash is None and d.state.step == Step.PREVOTE


def test_l36_l49_polka_locks_then_commit() -> None:
    d = Driver()
    block = make_block((b"a",), d.state.validators.get_proposer(0).public_key)
    d.propose(0, block)
    for i in d.others()[:2]:
        d.feed(VoteReceived(signed_vote(i, VoteType.PREVOTE, 0, block.hash)))
    d.feed(VoteReceived(signed_vote(d.me, VoteType.PREVOTE, 0, block.hash)))
    assert d.state.locked_value == block and d.state.locked_round == 0
    assert any(v.vote.vote_type == VoteType.PRECOMMIT for v in _votes(d.effects))
    commits = []
    for i in d.others():
        commits += [
            e
            for e in d.feed(VoteReceived(signed_vote(i, VoteType.PRECOMMIT, 0, block.hash)))
            if isinstance(e, Commit)
        ]
    assert len(commits) == 1 and commits[0].block == block
    assert len(commits[0].certificate.signatures) == 3


def test_locked_value_kept_after_round_change() -> None:
    """L28/L32: locked on v in round 0, a fresh different value in round 1 gets a nil prevote."""
    d = Driver()
    v = make_block((b"v",), d.state.validators.get_proposer(0).public_key)
    d.propose(0, v)
    for i in range(4):
        d.feed(VoteReceived(signed_vote(i, VoteType.PREVOTE, 0, v.hash)))
    assert d.state.locked_round == 0
    d.feed(TimeoutFired(1, 0, Step.PRECOMMIT))  # L65 → round 1
    assert d.state.round == 1
    w = make_block((b"w",), d.state.validators.get_proposer(1).public_key)
    (vote,) = _votes(d.propose(1, w))
    assert vote.vote.round == 1 and vote.vote.block_hash is None
    assert d.state.locked_value == v


def test_nil_polka_then_round_change() -> None:
    """L44 precommit nil on 2f+1 nil prevotes; L47 schedules timeoutPrecommit; L65 next round."""
    d = Driver()
    d.feed(TimeoutFired(1, 0, Step.PROPOSE))
    effects = []
    for i in d.others():
        effects += d.feed(VoteReceived(signed_vote(i, VoteType.PREVOTE, 0, None)))
    assert any(
        v.vote.vote_type == VoteType.PRECOMMIT and v.vote.block_hash is None
        for v in _votes(effects)
    )
    for i in d.others():
        effects += d.feed(VoteReceived(signed_vote(i, VoteType.PRECOMMIT, 0, None)))
    timeouts = [e for e in effects if isinstance(e, ScheduleTimeout) and e.step == Step.PRECOMMIT]
    assert timeouts and timeouts[0].duration_ms == d.state.timeouts.precommit_ms
    d.feed(TimeoutFired(1, 0, Step.PRECOMMIT))
    assert (d.state.round, d.state.step) == (1, Step.PROPOSE)
    assert d.state.timeouts.get_duration_ms(Step.PROPOSE, 1) > d.state.timeouts.get_duration_ms(
        Step.PROPOSE, 0
    )


def test_l55_skip_to_round_with_f_plus_one_messages() -> None:
    d = Driver()
    for i in d.others()[:2]:
        d.feed(VoteReceived(signed_vote(i, VoteType.PREVOTE, 5, None)))
    assert d.state.round == 5


def test_conflicting_votes_become_evidence() -> None:
    d = Driver()
    a = d.feed(VoteReceived(signed_vote(d.others()[0], VoteType.PREVOTE, 0, None)))
    b = d.feed(VoteReceived(signed_vote(d.others()[0], VoteType.PREVOTE, 0, b"\x01" * 32)))
    assert a == [] and len([e for e in b if type(e).__name__ == "EvidenceFound"]) == 1


def test_bad_signature_vote_is_ignored() -> None:
    d = Driver()
    vote = signed_vote(d.others()[0], VoteType.PREVOTE, 0, None)
    d.feed(VoteReceived(replace(vote, signature=bytes(64))))
    assert d.state.votes == {}


def test_evidence_and_the_last_commit_are_checked_against_the_sets_of_their_heights() -> None:
    """At height 3, the last commit is signed by the set of height 2 (v0..v2 here, not
    v3) and evidence of height 1 checked against height 1's set; evidence older than
    MAX_EVIDENCE_AGE_BLOCKS is refused."""
    old_set = ValidatorSet.from_validators(
        [Voter(f"v{i}", k.public_key, 1) for i, k in enumerate(KEYS[:3])]
    )
    prev = make_block((), KEYS[0].public_key)
    precommits = {
        k.public_key: replace(
            v := Vote(VoteType.PRECOMMIT, 2, 0, prev.hash, k.public_key),
            signature=k.sign(v.sign_bytes(CHAIN)),
        )
        for k in KEYS[:3]
    }
    commit = compute_commit_certificate(2, 0, prev.hash, precommits)
    evidence = make_equivocation()
    state = initial_state(CHAIN, None, VALIDATORS, TimeoutConfig())
    start = StartHeight(
        3, VALIDATORS, VALIDATORS, prev.hash, b"root", 5, commit, {1: old_set, 2: old_set}
    )
    state, _ = apply(state, start)
    header = BlockHeader(
        CHAIN, 3, 10, prev.hash, b"root", compute_txs_hash(()), VALIDATORS.proposer.public_key,
        commit.hash, compute_evidence_hash((evidence,)), VALIDATORS.hash, VALIDATORS.hash,
    )  # fmt: skip
    block = Block(header, (), commit, (evidence,))
    assert compute_block_error(state, block) is None
    state, _ = apply(state, replace(start, past_validators={2: old_set}))
    assert "not of the last heights" in (compute_block_error(state, block) or "")
    without_v0 = ValidatorSet.from_validators(
        [Voter(f"v{i}", k.public_key, 1) for i, k in enumerate(KEYS) if i > 0]
    )
    state, _ = apply(state, replace(start, past_validators={1: old_set, 2: without_v0}))
    assert "signer outside the validator set" in (compute_block_error(state, block) or "")
    state, _ = apply(state, replace(start, past_validators={1: without_v0, 2: old_set}))
    assert compute_block_error(state, block) == "invalid evidence"
