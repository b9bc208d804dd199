"""What a stuck validator re-sends of its height: the rounds that can still decide it."""

from __future__ import annotations

from dataclasses import replace

from consensus.regossip import get_gossip, get_gossip_rounds
from consensus.state_machine import ConsensusState, TimeoutConfig, initial_state
from consensus.types import NIL_ROUND, Proposal, Vote, VoteType
from tests.consensus.helpers import CHAIN, VALIDATORS, make_block, signed_proposal, signed_vote


def _stuck_at(round_: int, **fields: int) -> ConsensusState:
    """A validator at `round_` of height 1 holding every validator's prevote and precommit
    of every round so far, and a proposal of each."""
    state = replace(initial_state(CHAIN, None, VALIDATORS, TimeoutConfig()), height=1)
    voters = VALIDATORS.validators
    votes = {
        (r, t): {v.public_key: (signed_vote(i, t, r, None),) for i, v in enumerate(voters)}
        for r in range(round_ + 1)
        for t in (VoteType.PREVOTE, VoteType.PRECOMMIT)
    }
    block = make_block((b"a",), VALIDATORS.get_proposer(0).public_key)
    proposals = {r: signed_proposal(r, block) for r in range(round_ + 1)}
    return replace(state, round=round_, votes=votes, proposals=proposals, **fields)


def _rounds(messages: tuple[Proposal | Vote, ...]) -> set[int]:
    return {m.round for m in messages}


def test_a_stuck_round_resends_its_own_and_the_one_before() -> None:
    state = _stuck_at(9)
    assert get_gossip_rounds(state) == {8, 9}
    assert _rounds(get_gossip(state)) == {8, 9}
    assert len(get_gossip(state)) == 2 * (1 + 2 * len(VALIDATORS.validators))


def test_the_rounds_of_the_lock_the_valid_value_and_the_proposal_s_proof_of_lock_too() -> None:
    state = _stuck_at(9, locked_round=2, valid_round=5)
    block = state.proposals[9].block
    state = replace(state, proposals={**state.proposals, 9: signed_proposal(9, block, 7)})
    assert get_gossip_rounds(state) == {2, 5, 7, 8, 9}
    assert _rounds(get_gossip(state)) == {2, 5, 7, 8, 9}


def test_round_zero_has_no_round_before() -> None:
    state = _stuck_at(0)
    assert get_gossip_rounds(state) == {0}
    assert NIL_ROUND not in get_gossip_rounds(replace(state, locked_round=NIL_ROUND))


def test_the_latest_round_goes_first_its_precommits_before_its_prevotes() -> None:
    """What a loaded node's publisher cannot fit into its peers' queues is cut from the end."""
    gossip = get_gossip(_stuck_at(9, locked_round=2))
    order = [(m.round, "proposal" if isinstance(m, Proposal) else m.vote_type.name) for m in gossip]
    voters = len(VALIDATORS.validators)
    kinds = ["proposal"] + ["PRECOMMIT"] * voters + ["PREVOTE"] * voters
    assert order == [(r, kind) for r in (9, 8, 2) for kind in kinds]
