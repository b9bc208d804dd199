"""The clearing house in the open: what anyone may read of its own funds.

Aggregates only, never one member's figures: the insurance fund and what the
house holds (its cash, the collateral it seized, and in how many instruments it
holds lots, never which nor how many: they are a defaulter's positions, shown
only to registered bidders for the auction), the default
fund's size and its last Cover-N sizing (the N largest stress losses beyond
initial margin, without their owners), whether withdrawals are halted and why,
and what each chain's vault holds for cash.
"""

from __future__ import annotations

from clearing.default.house import HOUSE, get_house_equity, get_uncovered_deficit
from clearing.risk.engine import get_risk_setup
from clearing.state import ClearingState, get_collateral_value
from node.api.bodies import hex0x


def get_clearing_house_status(state: ClearingState) -> dict[str, object]:
    deficit = get_uncovered_deficit(state)
    return {
        "house_equity": get_house_equity(state),
        "uncovered_deficit": deficit,
        "withdrawals_halted": deficit > 0,
        "insurance_fund": get_insurance_fund_view(state),
        "default_fund": get_default_fund_view(state),
        "fee_pool": state.fee_pool,
        "settlement_reserves": {str(c): r for c, r in sorted(state.settlement_reserves.items())},
    }


def get_insurance_fund_view(state: ClearingState) -> dict[str, object]:
    record = state.members.get(HOUSE[0])
    account = None if record is None else record.sub_accounts.get(HOUSE[1])
    cash = state.insurance_fund + (0 if account is None else account.cash)
    auctions = len(state.auctions)
    if account is None:
        return {"cash": cash, "collateral_value": 0, "collateral": [], "positions": 0,
                "open_auctions": auctions}  # fmt: skip
    return {
        "cash": cash,
        "collateral_value": get_collateral_value(state, account),
        "collateral": [
            {"chain_id": chain, "token": hex0x(token), "quanta": quanta}
            for (chain, token), quanta in sorted(account.collateral.items())
        ],
        "positions": sum(1 for p in account.positions.values() if p.quantity),
        "open_auctions": auctions,
    }


def get_default_fund_view(state: ClearingState) -> dict[str, object]:
    setup = get_risk_setup(state.genesis)
    members = [m for a, m in state.members.items() if a != HOUSE[0]]
    return {
        "posted": sum(m.default_fund for m in members),
        "required": sum(m.default_fund_required for m in members),
        "contributors": sum(1 for m in members if m.default_fund),
        "cover": None if setup is None else setup.params.default_fund.cover,
        "cover_losses": list(state.default_fund_cover),
        "assessment_cap_bps": None
        if setup is None
        else setup.params.default_fund.assessment_cap_bps,
    }
