"""Changing one parameter rather than a whole section: a perpetual's funding terms, an
instrument's fee, the share of fees that goes to the insurance fund, the default fund's
sizing, a collateral token's haircut. Each is validated as the genesis validates it
(the instrument entry, the ``fees`` key, the risk section, the collateral entry) and
delayed: members see fees, funding, their default-fund contributions and what their
collateral counts for change coming."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from clearing.errors import GenesisError, UnknownCollateral, UnknownInstrument
from clearing.genesis import get_instrument_doc, parse_instrument
from clearing.governance.draft import Draft, check_risk_section
from clearing.governance.errors import (
    ChangeNotAllowed,
    InvalidInstrument,
    InvalidParameter,
    InvalidRiskParams,
)
from clearing.instruments import Instrument
from clearing.state import ClearingState
from clearing.units import BPS_DENOMINATOR, MAX_UINT64
from lightclient.codec import expect_bytes, expect_int, expect_list, expect_str


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


@dataclass(frozen=True, slots=True)
class SetFunding:
    """A perpetual's funding interval and interest component (per 8 hours, millionths):
    the next accrual counts the new interval's boundaries since the last one paid."""

    NAME: ClassVar[str] = "set_funding"
    EMERGENCY: ClassVar[bool] = False
    instrument_id: str
    funding_interval_ms: int
    funding_interest_ppm: int

    def to_fields(self) -> list[object]:
        return [self.NAME, self.instrument_id, self.funding_interval_ms, self.funding_interest_ppm]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> SetFunding:
        _, instrument_id, interval, interest = expect_list(fields, cls.NAME, 4)
        return cls(
            expect_str(instrument_id, "instrument"),
            expect_int(interval, "funding_interval_ms", 0, MAX_UINT64),
            expect_int(interest, "funding_interest_ppm", -MAX_UINT64, MAX_UINT64),
        )

    def apply(self, draft: Draft, state: ClearingState) -> None:
        instrument = get_tradable(draft, state, self.instrument_id)
        if not instrument.is_perpetual():
            raise ChangeNotAllowed(self.instrument_id, f"a {instrument.kind.value} has no funding")
        draft.instruments[self.instrument_id] = replace_terms(
            instrument,
            funding_interval_ms=self.funding_interval_ms,
            funding_interest_ppm=self.funding_interest_ppm,
        )


@dataclass(frozen=True, slots=True)
class SetFee:
    """An instrument's clearing fee on notional, charged to each side of a trade."""

    NAME: ClassVar[str] = "set_fee"
    EMERGENCY: ClassVar[bool] = False
    instrument_id: str
    fee_bps: int

    def to_fields(self) -> list[object]:
        return [self.NAME, self.instrument_id, self.fee_bps]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> SetFee:
        _, instrument_id, fee_bps = expect_list(fields, cls.NAME, 3)
        return cls(
            expect_str(instrument_id, "instrument"), expect_int(fee_bps, "fee_bps", 0, MAX_UINT64)
        )

    def apply(self, draft: Draft, state: ClearingState) -> None:
        instrument = get_tradable(draft, state, self.instrument_id)
        draft.instruments[self.instrument_id] = replace_terms(instrument, fee_bps=self.fee_bps)


@dataclass(frozen=True, slots=True)
class SetFeeSplit:
    """The share of clearing fees that goes to the insurance fund (genesis
    ``fees.insurance_fund_bps``); the rest goes to the fee pool."""

    NAME: ClassVar[str] = "set_fee_split"
    EMERGENCY: ClassVar[bool] = False
    insurance_fund_bps: int

    def to_fields(self) -> list[object]:
        return [self.NAME, self.insurance_fund_bps]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> SetFeeSplit:
        _, share = expect_list(fields, cls.NAME, 2)
        return cls(expect_int(share, "insurance_fund_bps", 0, MAX_UINT64))

    def apply(self, draft: Draft, state: ClearingState) -> None:
        if self.insurance_fund_bps > BPS_DENOMINATOR:
            raise InvalidParameter(
                "fees.insurance_fund_bps", f"an integer in [0, {BPS_DENOMINATOR}]",
                self.insurance_fund_bps,
            )  # fmt: skip
        draft.fee_to_insurance_bps = self.insurance_fund_bps


@dataclass(frozen=True, slots=True)
class SetDefaultFund:
    """The default fund's sizing (the risk section's ``default_fund``): Cover-N, the
    stress multiple, the assessment cap. Contributions are re-sized at the next epoch."""

    NAME: ClassVar[str] = "set_default_fund"
    EMERGENCY: ClassVar[bool] = False
    cover: int
    stress_multiple: int
    assessment_cap_bps: int

    def to_fields(self) -> list[object]:
        return [self.NAME, self.cover, self.stress_multiple, self.assessment_cap_bps]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> SetDefaultFund:
        _, cover, multiple, cap = expect_list(fields, cls.NAME, 4)
        return cls(
            expect_int(cover, "cover", 0, MAX_UINT64),
            expect_int(multiple, "stress_multiple", 0, MAX_UINT64),
            expect_int(cap, "assessment_cap_bps", 0, MAX_UINT64),
        )

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


@dataclass(frozen=True, slots=True)
class SetCollateralHaircut:
    """A collateral token's haircut: from the next block each quantum counts for its
    index price less ``haircut_bps`` in margin, solvency reports and auctions. A
    settlement token is the ledger's money and keeps none, as the genesis requires."""

    NAME: ClassVar[str] = "set_collateral_haircut"
    EMERGENCY: ClassVar[bool] = False
    chain_id: int
    token: bytes
    haircut_bps: int

    def to_fields(self) -> list[object]:
        return [self.NAME, self.chain_id, self.token, self.haircut_bps]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> SetCollateralHaircut:
        _, chain_id, token, haircut_bps = expect_list(fields, cls.NAME, 4)
        return cls(
            expect_int(chain_id, "chain_id", 1, MAX_UINT64),
            expect_bytes(token, "token", 20),
            expect_int(haircut_bps, "haircut_bps", 0, MAX_UINT64),
        )

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
