"""Governance on the status page: what is being voted on, what executes at which height
(the timelock members see coming) and how recent proposals ended. All of it is public:
proposals, ballots' power and heights; nothing names a member."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from clearing.governance.change_form import to_plain
from clearing.governance.tally import compute_tally
from clearing.governance_proposal import GovernanceProposal, ProposalStatus
from clearing.state import ClearingState


def describe_change(plain: dict[str, Any]) -> str:
    """A change in one line: its kind and scalar fields; a genesis document by its id."""
    parts = [str(plain["kind"])]
    for name, value in plain.items():
        if name == "kind":
            continue
        if isinstance(value, dict):
            parts.append(f"{name}={value.get('id', '(section)')}")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def get_failures(events: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """Why each failed proposal failed, from the governance events the API keeps
    (node/api/governance.py): the refusal's code by proposal id."""
    return {
        e["fields"]["proposal"]: str(e["fields"]["code"])
        for e in events
        if e["kind"] == "gov_proposal_failed"
    }


def get_governance(
    state: ClearingState, failures: Mapping[int, str]
) -> dict[str, list[dict[str, Any]]]:
    """``voting``: open votes with their tally; ``scheduled``: passed proposals by the
    height they execute at; ``recent``: finished ones still in the state, newest first,
    a failed one with its refusal's code when this node saw it fail (``failures``)."""
    proposals = sorted(state.proposals.values(), key=lambda p: p.id)
    return {
        "voting": [_row(state, p) for p in proposals if p.status is ProposalStatus.VOTING],
        "scheduled": [
            {**_row(state, p), "blocks_left": p.execute_height - state.height}
            for p in sorted(proposals, key=lambda p: (p.execute_height, p.id))
            if p.status is ProposalStatus.PASSED
        ],
        "recent": [
            {
                **_row(state, p),
                "finished_height": p.finished_height,
                "reason": failures.get(p.id, "") if p.status is ProposalStatus.FAILED else "",
            }
            for p in sorted(proposals, key=lambda p: (-p.finished_height, -p.id))
            if not p.is_open()
        ],
    }


def _row(state: ClearingState, proposal: GovernanceProposal) -> dict[str, Any]:
    tally = compute_tally(proposal, state.validators, state.total_power)
    return {
        "id": proposal.id,
        "status": proposal.status.value,
        "changes": "; ".join(describe_change(to_plain(c)) for c in proposal.changes),
        "deadline_height": proposal.deadline_height,
        "executes": "when it passes" if proposal.is_emergency() else proposal.execute_height,
        "yes_no_abstain": f"{tally.yes}/{tally.no}/{tally.abstain} of {tally.total_power}",
    }
