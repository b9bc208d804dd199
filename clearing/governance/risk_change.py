"""Replacing the risk section (scan ranges, volatilities, groups, the maintenance
fraction, stress days, liquidation, default fund ...): a delayed change, since margins
move under every member's feet from its height on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from clearing.governance.documents import decode_document, encode_document, expect_document_text
from clearing.governance.draft import Draft, check_risk_section, declare_change
from clearing.governance.errors import InvalidRiskParams
from clearing.state import ClearingState
from lightclient.records import Checked, Declared


@declare_change
@dataclass(frozen=True, slots=True)
class ReplaceRiskParams(Declared):
    """``section``: the JSON text of a whole genesis ``risk`` section (validated by
    ``parse_risk_params``); it replaces the one in force."""

    NAME: ClassVar[str] = "replace_risk_params"
    EMERGENCY: ClassVar[bool] = False
    section: Annotated[str, Checked(expect_document_text)]

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """A section that parses and sizes its scenario grids; margining stays on (an
        empty section would switch it off: no margin, no liquidation)."""
        section = decode_document(self.section, "risk")
        if not section:
            raise InvalidRiskParams("risk", "a non-empty risk section", section)
        check_risk_section(section)
        draft.risk = section


def make_risk_change(section: dict[str, Any]) -> ReplaceRiskParams:
    return ReplaceRiskParams(encode_document(section))
