"""The clearing house in the open: what anyone may read of its own funds.

Aggregates only, never one member's figures: the insurance fund (and, per chain,
the settlement tokens in that chain's vault that back it) and what the
house holds (its cash, the collateral it seized, and in how many instruments it
holds lots, never which nor how many: they are a defaulter's positions, shown
only to registered bidders for the auction), the default fund's size, whether
withdrawals are halted and why, and what each chain's vault holds for cash. The
default fund's last Cover-N sizing (the N largest stress losses beyond initial
margin) is each one member's figure: only the operator's view (`detailed`) has it. The
public view withholds the fund's totals while fewer than `min_public_contributors`
members make them up, and the posted total while required less posted would be fewer
members' shortfalls (node/api/disclosure.py).
"""

from __future__ import annotations

from clearing.default.house import (
    HOUSE,
    get_house_equity,
    get_insurance_fund_backing,
    get_insurance_fund_cash,
    get_uncovered_deficit,
)
from clearing.risk.engine import get_risk_setup
from clearing.state import ClearingState, get_collateral_value
from node.api.bodies import hex0x
from node.api.disclosure import get_min_contributors, get_withheld, get_withheld_difference


def get_clearing_house_status(state: ClearingState, detailed: bool = False) -> dict[str, object]:
    deficit = get_uncovered_deficit(state)
    return {
        "house_equity": get_house_equity(state),
        "uncovered_deficit": deficit,
        "withdrawals_halted": deficit > 0,
        "insurance_fund": get_insurance_fund_view(state),
        "default_fund": get_default_fund_view(state, detailed),
        "fee_pool": state.fee_pool,
        "settlement_reserves": {str(c): r for c, r in sorted(state.settlement_reserves.items())},
    }


def get_insurance_fund_view(state: ClearingState) -> dict[str, object]:
    in_vaults, owed = get_insurance_fund_backing(state)
    record = state.members.get(HOUSE[0])
    account = None if record is None else record.sub_accounts.get(HOUSE[1])
    collateral = {} if account is None else account.collateral
    positions = {} if account is None else account.positions
    return {
        "cash": get_insurance_fund_cash(state),
        "cash_in_vaults": {str(c): amount for c, amount in in_vaults.items()},
        "cash_owed": owed,
        "collateral_value": 0 if account is None else get_collateral_value(state, account),
        "collateral": [
            {"chain_id": chain, "token": hex0x(token), "quanta": quanta}
            for (chain, token), quanta in sorted(collateral.items())
        ],
        "positions": sum(1 for p in positions.values() if p.quantity),
        "open_auctions": len(state.auctions),
    }


def get_default_fund_view(state: ClearingState, detailed: bool) -> dict[str, object]:
    """The fund's totals; in the public view (not `detailed`) a withheld total is None
    and `withheld` says why, by the total's name."""
    setup = get_risk_setup(state)
    members = [m for a, m in state.members.items() if a != HOUSE[0]]
    view: dict[str, object] = {
        "posted": sum(m.default_fund for m in members),
        "required": sum(m.default_fund_required for m in members),
        "contributors": sum(1 for m in members if m.default_fund),
        "cover": None if setup is None else setup.params.default_fund.cover,
        "assessment_cap_bps": None
        if setup is None
        else setup.params.default_fund.assessment_cap_bps,
    }
    if detailed:
        view["cover_losses"] = list(state.default_fund_cover)
        return view
    k = get_min_contributors(state)
    withheld = {
        "posted": get_withheld(sum(1 for m in members if m.default_fund), k),
        "required": get_withheld(sum(1 for m in members if m.default_fund_required), k),
    }
    if withheld["posted"] is None and withheld["required"] is None:
        short = sum(1 for m in members if m.default_fund != m.default_fund_required)
        withheld["posted"] = get_withheld_difference(short, k)
    reasons = {name: why for name, why in withheld.items() if why is not None}
    view.update(dict.fromkeys(reasons))
    view["withheld"] = reasons
    return view
