"""Changing one parameter rather than a whole section: a perpetual's funding terms, an
instrument's fee, the share of fees that goes to the insurance fund, the default fund's
sizing, a collateral token's haircut. Each is validated as the genesis validates it
(the instrument entry, the ``fees`` key, the risk section, the collateral entry) and
delayed: members see fees, funding, their default-fund contributions and what their
collateral counts for change coming."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, ClassVar

from clearing.errors import GenesisError, UnknownCollateral, UnknownInstrument
from clearing.genesis import get_instrument_doc, parse_instrument
from clearing.governance.draft import Draft, check_risk_section, declare_change
from clearing.governance.errors import (
    ChangeNotAllowed,
    InvalidInstrument,
    InvalidParameter,
    InvalidRiskParams,
)
from clearing.instruments import Instrument
from clearing.state import ClearingState
from clearing.units import BPS_DENOMINATOR, MAX_UINT64
from lightclient.records import Address, ChainId, Declared, Int, Name, Uint


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


@declare_change
@declare_change
@dataclass(frozen=True, slots=True)
class SetFunding(Declared):
    """A perpetual's funding interval and interest component (per 8 hours, millionths):
    the next accrual counts the new interval's boundaries since the last one paid."""

    NAME: ClassVar[str] = "set_funding"
    EMERGENCY: ClassVar[bool] = False
    instrument_id: Name
    funding_interval_ms: Uint
    funding_interest_ppm: Annotated[int, Int(-MAX_UINT64, MAX_UINT64)]

    def apply(self, draft: Draft, state: ClearingState) -> None:
        instrument = get_tradable(draft, state, self.instrument_id)
        if not instrument.is_perpetual():
            raise ChangeNotAllowed(self.instrument_id, f"a {instrument.kind.value} has no funding")
        draft.instruments[self.instrument_id] = replace_terms(
            instrument,
            funding_interval_ms=self.funding_interval_ms,
            funding_interest_ppm=self.funding_interest_ppm,
        )


@declare_change
@declare_change
@dataclass(frozen=True, slots=True)
class SetFee(Declared):
    """An instrument's clearing fee on notional, charged to each side of a trade."""

    NAME: ClassVar[str] = "set_fee"
    EMERGENCY: ClassVar[bool] = False
    instrument_id: Name
    fee_bps: Uint

    def apply(self, draft: Draft, state: ClearingState) -> None:
        instrument = get_tradable(draft, state, self.instrument_id)
        draft.instruments[self.instrument_id] = replace_terms(instrument, fee_bps=self.fee_bps)


@declare_change
@declare_change
@dataclass(frozen=True, slots=True)
class SetFeeSplit(Declared):
    """The share of clearing fees that goes to the insurance fund (genesis
    ``fees.insurance_fund_bps``); the rest goes to the fee pool."""

    NAME: ClassVar[str] = "set_fee_split"
    EMERGENCY: ClassVar[bool] = False
    insurance_fund_bps: Uint

    def apply(self, draft: Draft, state: ClearingState) -> None:
        if self.insurance_fund_bps > BPS_DENOMINATOR:
            raise InvalidParameter(
                "fees.insurance_fund_bps", f"an integer in [0, {BPS_DENOMINATOR}]",
                self.insurance_fund_bps,
            )  # fmt: skip
        draft.fee_to_insurance_bps = self.insurance_fund_bps


@declare_change
@declare_change
@dataclass(frozen=True, slots=True)
class SetDefaultFund(Declared):
    """The default fund's sizing (the risk section's ``default_fund``): Cover-N, the
    stress multiple, the assessment cap. Contributions are re-sized at the next epoch."""

    NAME: ClassVar[str] = "set_default_fund"
    EMERGENCY: ClassVar[bool] = False
    cover: Uint
    stress_multiple: Uint
    assessment_cap_bps: Uint

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """With margining on (an empty risk section has no default fund to size)."""
        if not draft.risk:
            raise InvalidRiskParams("risk", "a non-empty risk section", {})
        section = {
            **draft.risk,
            "default_fund": {
                "cover": self.cover,
                "stress_multiple": self.stress_multiple,
                "assessment_cap_bps": self.assessment_cap_bps,
            },
        }
        check_risk_section(section)
        draft.risk = section


@declare_change
@declare_change
@dataclass(frozen=True, slots=True)
class SetCollateralHaircut(Declared):
    """A collateral token's haircut: from the next block each quantum counts for its
    index price less ``haircut_bps`` in margin, solvency reports and auctions. A
    settlement token is the ledger's money and keeps none, as the genesis requires."""

    NAME: ClassVar[str] = "set_collateral_haircut"
    EMERGENCY: ClassVar[bool] = False
    chain_id: ChainId
    token: Address
    haircut_bps: Uint

    def apply(self, draft: Draft, state: ClearingState) -> None:
        key = (self.chain_id, self.token)
        token = draft.collateral.get(key)
        if token is None:
            raise UnknownCollateral(self.chain_id, self.token)
        if key in state.genesis.settlement_asset.tokens:
            if self.haircut_bps:
                raise InvalidParameter("haircut_bps", "0 for a settlement token", self.haircut_bps)
        elif self.haircut_bps >= BPS_DENOMINATOR:
            raise InvalidParameter(
                "haircut_bps", f"an integer in [0, {BPS_DENOMINATOR - 1}]", self.haircut_bps
            )
        draft.collateral[key] = replace(token, haircut_bps=self.haircut_bps)
