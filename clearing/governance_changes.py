"""What a proposal can change: the governance changes as records, data only.

A change is ``[name, *fields]``; each kind says whether it is an emergency measure
(executed as soon as it passes) or delayed (executed at the proposal's height, at
least the genesis ``governance.min_delay_blocks`` after its vote closed). The rule that
applies a kind to the state is a function of the module named beside it in
``CHANGE_RULES`` (clearing/governance/rules.py), so the records sit under the state that
holds them in its proposals (clearing/state.py) and import nothing built on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar

from clearing.errors import GenesisError, InvalidInstrument, InvalidTemplate
from clearing.genesis import ExternalBridge, Validator, Venue
from clearing.governance_documents import decode_document, encode_document, expect_document_text
from clearing.instrument_docs import parse_instrument, parse_listing_template
from clearing.instruments import Instrument, InstrumentStatus
from clearing.listing_template import ListingTemplate
from clearing.units import MAX_UINT64
from clearing.upgrade_plan import UpgradePlan
from records.codec import DecodeError, expect_list, expect_str
from records.declared import (
    Address,
    ChainId,
    Checked,
    Choice,
    Declared,
    Inline,
    Int,
    Name,
    PublicKey,
    Uint,
    declare_record,
)

C = TypeVar("C", bound=type)


def declare_change(cls: C) -> C:
    """A governance change declared once: ``[NAME, *fields]``, its name checked first."""
    declared: C = declare_record(cls, head=cls.__dict__["NAME"])
    return declared


@declare_change
@dataclass(frozen=True, slots=True)
class ListInstrument(Declared):
    """``instrument`` is the JSON text of a genesis ``instruments`` entry; ``mark_price``
    its starting mark (the genesis prices every instrument it lists, too)."""

    NAME: ClassVar[str] = "list_instrument"
    EMERGENCY: ClassVar[bool] = False
    instrument: Annotated[str, Checked(expect_document_text)]  # the genesis entry, JSON
    mark_price: Annotated[int, Int(1)]

    def get_instrument(self) -> Instrument:
        try:
            return parse_instrument(decode_document(self.instrument, "instrument"), "instrument")
        except GenesisError as error:
            raise InvalidInstrument(error.key, error.expected, error.got) from None


@declare_change
@dataclass(frozen=True, slots=True)
class SetInstrumentStatus(Declared):
    NAME: ClassVar[str] = "set_instrument_status"
    EMERGENCY: ClassVar[bool] = True
    instrument_id: Name
    status: Annotated[InstrumentStatus, Choice()]


@declare_change
@dataclass(frozen=True, slots=True)
class SettlePerpetual(Declared):
    NAME: ClassVar[str] = "settle_perpetual"
    EMERGENCY: ClassVar[bool] = False
    instrument_id: Name
    price: Annotated[int, Int(1)]  # the final settlement price (``Price``)


@declare_change
@dataclass(frozen=True, slots=True)
class ReplaceRiskParams(Declared):
    """``section``: the JSON text of a whole genesis ``risk`` section (validated by
    ``parse_risk_params``); it replaces the one in force."""

    NAME: ClassVar[str] = "replace_risk_params"
    EMERGENCY: ClassVar[bool] = False
    section: Annotated[str, Checked(expect_document_text)]


@declare_change
@dataclass(frozen=True, slots=True)
class AddVenue(Declared):
    NAME: ClassVar[str] = "add_venue"
    EMERGENCY: ClassVar[bool] = False
    venue: Annotated[Venue, Inline()]


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveVenue(Declared):
    NAME: ClassVar[str] = "remove_venue"
    EMERGENCY: ClassVar[bool] = True
    venue_id: Name


@declare_change
@dataclass(frozen=True, slots=True)
class AddExternalBridge(Declared):
    NAME: ClassVar[str] = "add_external_bridge"
    EMERGENCY: ClassVar[bool] = False
    bridge: Annotated[ExternalBridge, Inline()]


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveExternalBridge(Declared):
    NAME: ClassVar[str] = "remove_external_bridge"
    EMERGENCY: ClassVar[bool] = True
    bridge_id: Name


@declare_change
@dataclass(frozen=True, slots=True)
class AddListingTemplate(Declared):
    """``template``: the JSON text of a genesis ``listing_templates`` entry."""

    NAME: ClassVar[str] = "add_listing_template"
    EMERGENCY: ClassVar[bool] = False
    template: Annotated[str, Checked(expect_document_text)]

    def get_template(self) -> ListingTemplate:
        try:
            return parse_listing_template(
                decode_document(self.template, "listing_template"), "listing_template"
            )
        except GenesisError as error:
            raise InvalidTemplate(error.key, error.expected, error.got) from None


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveListingTemplate(Declared):
    NAME: ClassVar[str] = "remove_listing_template"
    EMERGENCY: ClassVar[bool] = False
    template_id: Name


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


@declare_change
@dataclass(frozen=True, slots=True)
class SetFee(Declared):
    """An instrument's clearing fee on notional, charged to each side of a trade."""

    NAME: ClassVar[str] = "set_fee"
    EMERGENCY: ClassVar[bool] = False
    instrument_id: Name
    fee_bps: Uint


@declare_change
@dataclass(frozen=True, slots=True)
class SetFeeSplit(Declared):
    """The share of clearing fees that goes to the insurance fund (genesis
    ``fees.insurance_fund_bps``); the rest goes to the fee pool."""

    NAME: ClassVar[str] = "set_fee_split"
    EMERGENCY: ClassVar[bool] = False
    insurance_fund_bps: Uint


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


@declare_change
@dataclass(frozen=True, slots=True)
class AddValidator(Declared):
    NAME: ClassVar[str] = "add_validator"
    EMERGENCY: ClassVar[bool] = False
    validator: Annotated[Validator, Inline()]


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveValidator(Declared):
    NAME: ClassVar[str] = "remove_validator"
    EMERGENCY: ClassVar[bool] = False
    pubkey: PublicKey


@declare_change
@dataclass(frozen=True, slots=True)
class SetValidatorPower(Declared):
    NAME: ClassVar[str] = "set_validator_power"
    EMERGENCY: ClassVar[bool] = False
    pubkey: PublicKey
    power: Uint


@declare_change
@dataclass(frozen=True, slots=True)
class RotateValidatorKeys(Declared):
    """A validator's new consensus key and EVM address (either may stay as it is): it
    keeps its place in the set order, its name, power and peer id. Ballots its old key
    cast count for nothing from then on."""

    NAME: ClassVar[str] = "rotate_validator_keys"
    EMERGENCY: ClassVar[bool] = False
    pubkey: PublicKey
    new_pubkey: PublicKey
    new_evm_address: Address


@declare_change
@dataclass(frozen=True, slots=True)
class UnjailValidator(Declared):
    NAME: ClassVar[str] = "unjail_validator"
    EMERGENCY: ClassVar[bool] = False
    pubkey: PublicKey


@declare_change
@dataclass(frozen=True, slots=True)
class AdmitClearingMember(Declared):
    NAME: ClassVar[str] = "admit_clearing_member"
    EMERGENCY: ClassVar[bool] = False
    member: Address


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveClearingMember(Declared):
    NAME: ClassVar[str] = "remove_clearing_member"
    EMERGENCY: ClassVar[bool] = False
    member: Address


@declare_change
@dataclass(frozen=True, slots=True)
class ScheduleUpgrade(Declared):
    """Upgrade the network's software at ``plan.height`` (clearing/upgrade.py): replaces
    any plan in force."""

    NAME: ClassVar[str] = "schedule_upgrade"
    EMERGENCY: ClassVar[bool] = False
    plan: Annotated[UpgradePlan, Inline()]


@declare_change
@dataclass(frozen=True, slots=True)
class CancelUpgrade(Declared):
    """Cancel the planned upgrade ``name``: an emergency measure, so that a plan found
    wrong can be withdrawn before its height."""

    NAME: ClassVar[str] = "cancel_upgrade"
    EMERGENCY: ClassVar[bool] = True
    name: Name


def make_listing(doc: dict[str, Any], mark_price: int) -> ListInstrument:
    """A listing of the genesis entry ``doc`` (operators' tools and tests)."""
    return ListInstrument(encode_document(doc), mark_price)


def make_risk_change(section: dict[str, Any]) -> ReplaceRiskParams:
    return ReplaceRiskParams(encode_document(section))


def make_template_change(doc: dict[str, Any]) -> AddListingTemplate:
    """An installation of the genesis entry ``doc`` (operators' tools and tests)."""
    return AddListingTemplate(encode_document(doc))


Change = (
    ListInstrument
    | SetInstrumentStatus
    | SettlePerpetual
    | ReplaceRiskParams
    | AddVenue
    | RemoveVenue
    | AddExternalBridge
    | RemoveExternalBridge
    | AddListingTemplate
    | RemoveListingTemplate
    | SetFunding
    | SetFee
    | SetFeeSplit
    | SetDefaultFund
    | SetCollateralHaircut
    | AddValidator
    | RemoveValidator
    | SetValidatorPower
    | RotateValidatorKeys
    | UnjailValidator
    | AdmitClearingMember
    | RemoveClearingMember
    | ScheduleUpgrade
    | CancelUpgrade
)

CHANGE_TYPES: dict[str, Any] = {
    cls.NAME: cls
    for cls in (
        ListInstrument, SetInstrumentStatus, SettlePerpetual, ReplaceRiskParams, AddVenue,
        RemoveVenue, AddExternalBridge, RemoveExternalBridge, AddListingTemplate,
        RemoveListingTemplate, SetFunding, SetFee, SetFeeSplit, SetDefaultFund,
        SetCollateralHaircut, AddValidator, RemoveValidator, SetValidatorPower,
        RotateValidatorKeys, UnjailValidator, AdmitClearingMember, RemoveClearingMember,
        ScheduleUpgrade, CancelUpgrade,
    )
}  # fmt: skip


def decode_change(obj: object, what: str = "change") -> Change:
    """A change of any kind, told apart by its name."""
    fields = expect_list(obj, what)
    name = expect_str(fields[0] if fields else None, what)
    change_type = CHANGE_TYPES.get(name)
    if change_type is None:
        raise DecodeError(what, f"unknown change {name!r}")
    change: Change = change_type.from_fields(fields)
    return change


def get_named_instruments(change: Change) -> set[str]:
    """The instrument ids ``change`` names (a listing: the new id and its underlying), so
    that nothing a pending proposal names leaves the configuration before it executes
    (clearing/governance/pruning.py)."""
    if isinstance(change, ListInstrument):
        instrument = change.get_instrument()  # checked when the proposal was submitted
        return {instrument.id, instrument.underlying}
    if isinstance(change, SetInstrumentStatus | SettlePerpetual | SetFunding | SetFee):
        return {change.instrument_id}
    return set()
