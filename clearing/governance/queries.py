"""Reads of governance the node's API serves: every proposal with its tally. Nothing
in them is a member's: proposals and ballots are public."""

from __future__ import annotations

from dataclasses import dataclass

from clearing.governance.proposal import Proposal
from clearing.governance.tally import Tally, compute_tally
from clearing.state import ClearingState


@dataclass(frozen=True, slots=True)
class ProposalView:
    proposal: Proposal
    tally: Tally

    def to_json(self) -> dict[str, object]:
        p = self.proposal
        return {
            "id": p.id,
            "proposer": "0x" + p.proposer.hex(),
            "changes": [[_show(v) for v in c.to_fields()] for c in p.changes],
            "submitted_height": p.submitted_height,
            "deadline_height": p.deadline_height,
            "execute_height": p.execute_height,
            "emergency": p.is_emergency(),
            "status": p.status.value,
            "decided_height": p.decided_height,
            "ballots": {
                "0x" + voter.hex(): ballot.choice.value
                for voter, ballot in sorted(p.ballots.items())
            },
            "tally": {
                "yes": self.tally.yes,
                "no": self.tally.no,
                "abstain": self.tally.abstain,
                "total_power": self.tally.total_power,
                "passing": self.tally.is_passing(),
            },
        }


def _show(value: object) -> object:
    return "0x" + value.hex() if isinstance(value, bytes) else value


def get_proposal(state: ClearingState, proposal_id: int) -> ProposalView | None:
    proposal = state.proposals.get(proposal_id)
    return None if proposal is None else _view(state, proposal)


def list_proposals(state: ClearingState, open_only: bool = False) -> list[ProposalView]:
    """Newest first."""
    return [
        _view(state, p)
        for _, p in sorted(state.proposals.items(), reverse=True)
        if p.is_open() or not open_only
    ]


def _view(state: ClearingState, proposal: Proposal) -> ProposalView:
    return ProposalView(proposal, compute_tally(proposal, state.validators, state.total_power))
