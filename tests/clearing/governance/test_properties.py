"""Properties of governance over random votes, delays and snapshot heights: a change
takes effect exactly at its height, replays (and restores) to the same roots, and moves
no money."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.governance.submit import GovProposal
from clearing.governance.vote import sign_vote
from clearing.governance_changes import make_risk_change
from clearing.governance_proposal import GovernanceProposal, VoteChoice
from clearing.risk.engine import get_member_risk
from clearing.transition.block import BlockResult
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearing.tx_kind import TxRecord
from clearnode.client.sandbox_keys import MemberKey
from devnet.sandbox import Sandbox
from tests.clearing.governance.support import (
    MIN_DELAY,
    NEXT_FUTURE,
    gov_sandbox,
    next_future_listing,
    propose,
)
from tests.clearing.support import genesis_doc, get_cash_supply
from tests.clearing.test_trade import make_batch, make_trade, trading_box


@dataclass(frozen=True)
class Plan:
    voting_blocks: int
    extra_delay: int
    choices: tuple[VoteChoice, ...]  # one per validator
    vote_block: int  # blocks after the proposal's, up to its deadline
    snapshot_block: int  # blocks after the proposal's, before execution


plans = st.builds(
    Plan,
    st.integers(1, 4),
    st.integers(0, 3),
    st.tuples(*[st.sampled_from(list(VoteChoice))] * 4),
    st.integers(1, 4),
    st.integers(0, MIN_DELAY),
).filter(lambda p: p.vote_block <= p.voting_blocks)


def make_proposal(box: Sandbox, plan: Plan) -> GovProposal:
    risk = genesis_doc()["risk"]
    risk["underlyings"]["BTC"]["scan_bps"] = 4000
    changes = (next_future_listing(), make_risk_change(risk))
    return propose(box, changes, plan.voting_blocks, MIN_DELAY + plan.extra_delay)


def votes_at(box: Sandbox, plan: Plan, proposal: GovernanceProposal, n: int) -> list[TxRecord]:
    """The ballots of the ``n``-th block after the proposal's."""
    if n != plan.vote_block:
        return []
    return [
        sign_vote(key, box.chain_id, proposal, choice)
        for key, choice in zip(box.validator_keys, plan.choices, strict=True)
    ]


def start(plan: Plan) -> tuple[Sandbox, MemberKey, GovProposal, BlockResult]:
    """A book with open BTC positions (alice long 5 lots), then the plan's proposal."""
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    box.apply([make_batch(box, [make_trade(1, alice, bob, quantity=5)])])
    tx = make_proposal(box, plan)
    return box, alice, tx, box.apply([tx])


def passes(plan: Plan) -> bool:
    return 3 * 10 * plan.choices.count(VoteChoice.YES) > 2 * 40


def get_margin(box: Sandbox, member: MemberKey) -> int:
    figures = get_member_risk(box.state, member.address, 0, with_prices=False)
    assert figures is not None
    return figures.initial_margin


def get_money(box: Sandbox) -> tuple[int, ...]:
    s = box.state
    accounts = [a for m in s.members.values() for a in m.sub_accounts.values()]
    collateral = sum(q for a in accounts for q in a.collateral.values())
    return (get_cash_supply(s), collateral, s.fee_pool, s.insurance_fund)


@settings(max_examples=25, deadline=None)
@given(plans)
def test_a_change_takes_effect_exactly_at_its_height_and_moves_no_money(plan: Plan) -> None:
    box, alice, tx, _ = start(plan)
    proposal = box.state.proposals[1]
    margin, money = get_margin(box, alice), get_money(box)
    for n in range(1, tx.execute_height - box.state.height + 3):
        box.apply(votes_at(box, plan, proposal, n))
        changed = passes(plan) and box.state.height >= tx.execute_height
        assert (NEXT_FUTURE in box.state.instruments) is changed
        assert (get_margin(box, alice) > margin) is changed
        assert get_money(box) == money


@settings(max_examples=15, deadline=None)
@given(plans)
def test_replaying_or_restoring_from_a_snapshot_gives_the_same_roots(plan: Plan) -> None:
    roots = []
    for _ in range(2):
        box, _, tx, block = start(plan)
        proposal = box.state.proposals[1]
        blocks = [block.state_root]
        for n in range(1, tx.execute_height - box.state.height + 3):
            if n - 1 == plan.snapshot_block:
                state = decode_snapshot(box.genesis, encode_snapshot(box.state))
                restored = Sandbox(box.genesis, state, box.validator_keys)
                first = n
            blocks.append(box.apply(votes_at(box, plan, proposal, n)).state_root)
        roots.append(blocks)
    assert roots[0] == roots[1]
    proposal = restored.state.proposals[1]
    for n in range(first, len(blocks)):
        assert restored.apply(votes_at(restored, plan, proposal, n)).state_root == blocks[n]
    assert restored.state.genesis == box.state.genesis
