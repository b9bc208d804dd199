"""What a proposal can change, and applying a proposal's changes all-or-nothing.

A change is ``[name, *fields]``; each kind says whether it is an emergency measure
(executed as soon as it passes) or delayed (executed at the proposal's height, at
least the genesis ``governance.min_delay_blocks`` after its vote closed). Validator-set
changes are kinds of their own (clearing/governance/validator_change.py), written
through the same draft (clearing/governance/draft.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clearing.events import Event
from clearing.governance.bridge_change import AddExternalBridge, RemoveExternalBridge
from clearing.governance.draft import Draft, check_draft, start_draft, write_draft
from clearing.governance.instrument_status import SetInstrumentStatus
from clearing.governance.listing import ListInstrument
from clearing.governance.membership_change import (
    MEMBERSHIP_CHANGES,
    AdmitClearingMember,
    RemoveClearingMember,
)
from clearing.governance.parameter_change import (
    SetCollateralHaircut,
    SetDefaultFund,
    SetFee,
    SetFeeSplit,
    SetFunding,
)
from clearing.governance.risk_change import ReplaceRiskParams
from clearing.governance.settlement import SettlePerpetual
from clearing.governance.template_change import AddListingTemplate, RemoveListingTemplate
from clearing.governance.validator_change import (
    VALIDATOR_CHANGES,
    AddValidator,
    RemoveValidator,
    RotateValidatorKeys,
    SetValidatorPower,
    UnjailValidator,
)
from clearing.governance.venue_change import AddVenue, RemoveVenue
from clearing.state import ClearingState
from lightclient.codec import DecodeError, expect_list, expect_str

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
)

CHANGE_TYPES: dict[str, Any] = {
    cls.NAME: cls
    for cls in (
        ListInstrument, SetInstrumentStatus, SettlePerpetual, ReplaceRiskParams, AddVenue,
        RemoveVenue, AddExternalBridge, RemoveExternalBridge, AddListingTemplate,
        RemoveListingTemplate, SetFunding, SetFee, SetFeeSplit, SetDefaultFund,
        SetCollateralHaircut, *VALIDATOR_CHANGES, *MEMBERSHIP_CHANGES,
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


def build_draft(state: ClearingState, changes: Sequence[Change]) -> Draft:
    """The configuration ``changes`` make of the one in force; raises the first
    change's refusal (an ``InvalidTransaction``) and changes nothing."""
    draft = start_draft(state)
    for change in changes:
        change.apply(draft, state)
    check_draft(draft)
    return draft


def apply_changes(state: ClearingState, changes: Sequence[Change]) -> list[Event]:
    """Check every change, then write them all; returns the events of the writes (a
    final settlement's)."""
    return write_draft(state, build_draft(state, changes))
