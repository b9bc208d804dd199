"""Replacing the risk section (scan ranges, volatilities, groups, the maintenance
fraction, stress days, liquidation, default fund ...): a delayed change, since margins
move under every member's feet from its height on."""

from __future__ import annotations

from clearing.governance.draft import Draft, check_risk_section
from clearing.governance.errors import InvalidRiskParams
from clearing.governance_changes import ReplaceRiskParams
from clearing.governance_documents import decode_document
from clearing.state import ClearingState


def apply_replace_risk_params(
    change: ReplaceRiskParams, draft: Draft, state: ClearingState
) -> None:
    """A section that parses and sizes its scenario grids; margining stays on (an
    empty section would switch it off: no margin, no liquidation)."""
    section = decode_document(change.section, "risk")
    if not section:
        raise InvalidRiskParams("risk", "a non-empty risk section", section)
    check_risk_section(section)
    draft.risk = section
