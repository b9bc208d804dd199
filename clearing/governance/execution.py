"""The end-of-block step of governance: close votes, then execute what passed.

In proposal order: an emergency proposal passes (and executes) in the first block
whose end finds more than 2/3 of the voting power for it; any other proposal is decided
when its vote closes, at the end of its deadline block, and a passed one executes at
the end of its execution height's block. Its changes are checked again then, against
the state as it is: one no longer valid (an id taken meanwhile) fails the proposal
alone, with an event; the block goes on. The step runs first at the end of the block,
so every other step of that block (marks, funding, margin calls, liquidation) and every
block after it works with the new configuration.
"""

from __future__ import annotations

from clearing.context import BlockContext
from clearing.errors import InvalidTransaction
from clearing.events import Event, make_event
from clearing.governance.rules import apply_changes
from clearing.governance.tally import Tally, compute_tally
from clearing.governance_proposal import GovernanceProposal, ProposalStatus
from clearing.state import ClearingState


def process_governance(state: ClearingState, ctx: BlockContext) -> list[Event]:
    events: list[Event] = []
    for proposal_id in sorted(state.proposals):
        proposal = state.proposals[proposal_id]
        if proposal.status is ProposalStatus.VOTING:
            events.extend(decide(state, ctx, proposal))
        if proposal.status is ProposalStatus.PASSED and is_due(proposal, ctx.height):
            events.extend(execute(state, ctx, proposal))
        if is_expired(proposal, ctx.height, state.genesis.governance.max_voting_blocks):
            del state.proposals[proposal_id]
    return events


def is_expired(proposal: GovernanceProposal, height: int, retention_blocks: int) -> bool:
    """A finished proposal stays readable for ``retention_blocks`` (the longest vote), then
    leaves the state (its events remain): the state does not grow with the years. A
    replay of its signed transaction is refused by its deadline, long past by then."""
    return not proposal.is_open() and height > proposal.finished_height + retention_blocks


def is_due(proposal: GovernanceProposal, height: int) -> bool:
    return proposal.is_emergency() or height >= proposal.execute_height


def decide(state: ClearingState, ctx: BlockContext, proposal: GovernanceProposal) -> list[Event]:
    tally = compute_tally(proposal, state.validators, state.total_power)
    closing = ctx.height >= proposal.deadline_height
    if tally.is_passing() and (proposal.is_emergency() or closing):
        proposal.status = ProposalStatus.PASSED
    elif closing:
        proposal.finish(ProposalStatus.REJECTED, ctx.height)
    else:
        return []
    proposal.decided_height = ctx.height
    return [_outcome_event(f"gov_proposal_{proposal.status.value}", proposal, tally)]


def execute(state: ClearingState, ctx: BlockContext, proposal: GovernanceProposal) -> list[Event]:
    try:
        events = apply_changes(state, proposal.changes)
    except InvalidTransaction as error:
        proposal.finish(ProposalStatus.FAILED, ctx.height)
        return [
            make_event(
                "gov_proposal_failed", proposal=proposal.id, code=error.code, detail=str(error)
            )
        ]
    proposal.finish(ProposalStatus.EXECUTED, ctx.height)
    executed = make_event(
        "gov_proposal_executed", proposal=proposal.id, changes=len(proposal.changes)
    )
    return [executed, *events]


def _outcome_event(kind: str, proposal: GovernanceProposal, tally: Tally) -> Event:
    return make_event(
        kind,
        proposal=proposal.id,
        yes=tally.yes,
        no=tally.no,
        abstain=tally.abstain,
        total_power=tally.total_power,
    )
