"""Reads of governance the node's API serves: every proposal with its tally, and the
configuration in force. Nothing in them is a member's: proposals, ballots and the
configuration are public."""

from __future__ import annotations

from dataclasses import dataclass

from clearing.governance.change_form import to_plain
from clearing.governance.tally import Tally, compute_tally
from clearing.governance_proposal import GovernanceProposal
from clearing.instrument_docs import get_instrument_doc, get_listing_template_doc
from clearing.instruments import InstrumentStatus
from clearing.state import ClearingState


@dataclass(frozen=True, slots=True)
class ProposalView:
    proposal: GovernanceProposal
    tally: Tally

    def to_json(self) -> dict[str, object]:
        p = self.proposal
        return {
            "id": p.id,
            "proposer": "0x" + p.proposer.hex(),
            "digest": "0x" + p.digest.hex(),
            "changes": [to_plain(c) for c in p.changes],
            "submitted_height": p.submitted_height,
            "deadline_height": p.deadline_height,
            "execute_height": p.execute_height,
            "emergency": p.is_emergency(),
            "status": p.status.value,
            "decided_height": p.decided_height,
            "finished_height": p.finished_height,
            "ballots": [
                {
                    "voter": "0x" + voter.hex(),
                    "choice": ballot.choice.value,
                    "sequence": ballot.sequence,
                    "height": ballot.height,
                }
                for voter, ballot in sorted(p.ballots.items())
            ],
            "tally": {
                "yes": self.tally.yes,
                "no": self.tally.no,
                "abstain": self.tally.abstain,
                "total_power": self.tally.total_power,
                "passing": self.tally.is_passing(),
            },
        }


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


def _view(state: ClearingState, proposal: GovernanceProposal) -> ProposalView:
    return ProposalView(proposal, compute_tally(proposal, state.validators, state.total_power))


def get_configuration_view(state: ClearingState) -> dict[str, object]:
    """The governed configuration in force: instruments (each as its genesis entry, with
    its status), the risk section, collateral tokens with their haircuts, the fee split,
    venues, external bridges, listing templates and the governance periods."""
    genesis = state.genesis
    return {
        "height": state.height,
        "instruments": [
            {
                "entry": get_instrument_doc(i),
                "status": state.instrument_status.get(i.id, InstrumentStatus.ACTIVE).value,
                "settled": i.id in state.final_settlement_prices,
            }
            for i in genesis.instruments
        ],
        "risk": genesis.risk,
        "collateral": [
            {
                "chain_id": t.chain_id,
                "token": "0x" + t.token.hex(),
                "symbol": t.symbol,
                "haircut_bps": t.haircut_bps,
                "price_feed": t.price_feed,
            }
            for t in genesis.collateral
        ],
        "fees": {"insurance_fund_bps": genesis.fee_to_insurance_bps},
        "venues": [{"id": v.id, "pubkey": "0x" + v.pubkey.hex()} for v in genesis.venues],
        "external_bridges": [
            {"id": b.id, "pubkey": "0x" + b.pubkey.hex(), "chains": list(b.chains)}
            for b in genesis.external_bridges
        ],
        "listing_templates": [get_listing_template_doc(t) for t in genesis.listing_templates],
        "governance": {
            "min_delay_blocks": genesis.governance.min_delay_blocks,
            "max_voting_blocks": genesis.governance.max_voting_blocks,
        },
    }
