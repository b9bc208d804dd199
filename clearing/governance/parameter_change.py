"""Changing one parameter rather than a whole section: a perpetual's funding terms, an
instrument's fee, the share of fees that goes to the insurance fund, the default fund's
sizing, a collateral token's haircut. Each is validated as the genesis validates it
(the instrument entry, the ``fees`` key, the risk section, the collateral entry) and
delayed: members see fees, funding, their default-fund contributions and what their
collateral counts for change coming."""

from __future__ import annotations

from dataclasses import replace

from clearing.errors import GenesisError, InvalidInstrument, UnknownCollateral, UnknownInstrument
from clearing.governance.draft import Draft, check_risk_section
from clearing.governance.errors import (
    ChangeNotAllowed,
    InvalidParameter,
    InvalidRiskParams,
)
from clearing.governance_changes import (
    SetCollateralHaircut,
    SetDefaultFund,
    SetFee,
    SetFeeSplit,
    SetFunding,
)
from clearing.instrument_docs import get_instrument_doc, parse_instrument
from clearing.instruments import Instrument
from clearing.state import ClearingState
from clearing.units import BPS_DENOMINATOR


def get_tradable(draft: Draft, state: ClearingState, instrument_id: str) -> Instrument:
    """A listed instrument that still trades (not expired, not settled)."""
    instrument = draft.instruments.get(instrument_id)
    if instrument is None:
        raise UnknownInstrument(instrument_id)
    if instrument.is_expired_at(state.time_ms) or instrument_id in state.final_settlement_prices:
        raise ChangeNotAllowed(instrument_id, "it trades no more")
    return instrument


def replace_terms(instrument: Instrument, **terms: object) -> Instrument:
    """``instrument`` with ``terms`` changed, validated as a genesis entry."""
    try:
        return parse_instrument({**get_instrument_doc(instrument), **terms}, "instrument")
    except GenesisError as error:
        raise InvalidInstrument(error.key, error.expected, error.got) from None


def apply_set_funding(change: SetFunding, draft: Draft, state: ClearingState) -> None:
    instrument = get_tradable(draft, state, change.instrument_id)
    if not instrument.is_perpetual():
        raise ChangeNotAllowed(change.instrument_id, f"a {instrument.kind.value} has no funding")
    draft.instruments[change.instrument_id] = replace_terms(
        instrument,
        funding_interval_ms=change.funding_interval_ms,
        funding_interest_ppm=change.funding_interest_ppm,
    )


def apply_set_fee(change: SetFee, draft: Draft, state: ClearingState) -> None:
    instrument = get_tradable(draft, state, change.instrument_id)
    draft.instruments[change.instrument_id] = replace_terms(instrument, fee_bps=change.fee_bps)


def apply_set_fee_split(change: SetFeeSplit, draft: Draft, state: ClearingState) -> None:
    if change.insurance_fund_bps > BPS_DENOMINATOR:
        raise InvalidParameter(
            "fees.insurance_fund_bps", f"an integer in [0, {BPS_DENOMINATOR}]",
            change.insurance_fund_bps,
        )  # fmt: skip
    draft.fee_to_insurance_bps = change.insurance_fund_bps


def apply_set_default_fund(change: SetDefaultFund, draft: Draft, state: ClearingState) -> None:
    """With margining on (an empty risk section has no default fund to size)."""
    if not draft.risk:
        raise InvalidRiskParams("risk", "a non-empty risk section", {})
    section = {
        **draft.risk,
        "default_fund": {
            "cover": change.cover,
            "stress_multiple": change.stress_multiple,
            "assessment_cap_bps": change.assessment_cap_bps,
        },
    }
    check_risk_section(section)
    draft.risk = section


def apply_set_collateral_haircut(
    change: SetCollateralHaircut, draft: Draft, state: ClearingState
) -> None:
    key = (change.chain_id, change.token)
    token = draft.collateral.get(key)
    if token is None:
        raise UnknownCollateral(change.chain_id, change.token)
    if key in state.genesis.settlement_asset.tokens:
        if change.haircut_bps:
            raise InvalidParameter("haircut_bps", "0 for a settlement token", change.haircut_bps)
    elif change.haircut_bps >= BPS_DENOMINATOR:
        raise InvalidParameter(
            "haircut_bps", f"an integer in [0, {BPS_DENOMINATOR - 1}]", change.haircut_bps
        )
    draft.collateral[key] = replace(token, haircut_bps=change.haircut_bps)
