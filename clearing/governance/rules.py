"""Applying a proposal's changes all-or-nothing, each kind by its rule.

A change is a record (clearing/governance_changes.py); the rule that applies it is a
function of its own module, ``apply_<name>(change, draft, state)``, found here by the
change's type. Each rule checks the change against the draft so far and the state and
writes the draft alone; the finished draft is checked whole and only then written
(clearing/governance/draft.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from clearing.events import Event
from clearing.governance.bridge_change import (
    apply_add_external_bridge,
    apply_remove_external_bridge,
)
from clearing.governance.draft import Draft, check_draft, start_draft, write_draft
from clearing.governance.instrument_status import apply_set_instrument_status
from clearing.governance.listing import apply_list_instrument
from clearing.governance.membership_change import (
    apply_admit_clearing_member,
    apply_remove_clearing_member,
)
from clearing.governance.parameter_change import (
    apply_set_collateral_haircut,
    apply_set_default_fund,
    apply_set_fee,
    apply_set_fee_split,
    apply_set_funding,
)
from clearing.governance.risk_change import apply_replace_risk_params
from clearing.governance.settlement import apply_settle_perpetual
from clearing.governance.template_change import (
    apply_add_listing_template,
    apply_remove_listing_template,
)
from clearing.governance.upgrade_change import apply_cancel_upgrade, apply_schedule_upgrade
from clearing.governance.validator_change import (
    apply_add_validator,
    apply_remove_validator,
    apply_rotate_validator_keys,
    apply_set_validator_power,
    apply_unjail_validator,
)
from clearing.governance.venue_change import apply_add_venue, apply_remove_venue
from clearing.governance_changes import (
    AddExternalBridge,
    AddListingTemplate,
    AddValidator,
    AddVenue,
    AdmitClearingMember,
    CancelUpgrade,
    Change,
    ListInstrument,
    RemoveClearingMember,
    RemoveExternalBridge,
    RemoveListingTemplate,
    RemoveValidator,
    RemoveVenue,
    ReplaceRiskParams,
    RotateValidatorKeys,
    ScheduleUpgrade,
    SetCollateralHaircut,
    SetDefaultFund,
    SetFee,
    SetFeeSplit,
    SetFunding,
    SetInstrumentStatus,
    SettlePerpetual,
    SetValidatorPower,
    UnjailValidator,
)
from clearing.state import ClearingState

CHANGE_RULES: dict[type, Callable[[Any, Draft, ClearingState], None]] = {
    ListInstrument: apply_list_instrument,
    SetInstrumentStatus: apply_set_instrument_status,
    SettlePerpetual: apply_settle_perpetual,
    ReplaceRiskParams: apply_replace_risk_params,
    AddVenue: apply_add_venue,
    RemoveVenue: apply_remove_venue,
    AddExternalBridge: apply_add_external_bridge,
    RemoveExternalBridge: apply_remove_external_bridge,
    AddListingTemplate: apply_add_listing_template,
    RemoveListingTemplate: apply_remove_listing_template,
    SetFunding: apply_set_funding,
    SetFee: apply_set_fee,
    SetFeeSplit: apply_set_fee_split,
    SetDefaultFund: apply_set_default_fund,
    SetCollateralHaircut: apply_set_collateral_haircut,
    AddValidator: apply_add_validator,
    RemoveValidator: apply_remove_validator,
    SetValidatorPower: apply_set_validator_power,
    RotateValidatorKeys: apply_rotate_validator_keys,
    UnjailValidator: apply_unjail_validator,
    AdmitClearingMember: apply_admit_clearing_member,
    RemoveClearingMember: apply_remove_clearing_member,
    ScheduleUpgrade: apply_schedule_upgrade,
    CancelUpgrade: apply_cancel_upgrade,
}
"""Each kind of change's rule, by the record's type (every kind of ``CHANGE_TYPES``)."""


def build_draft(state: ClearingState, changes: Sequence[Change]) -> Draft:
    """The configuration ``changes`` make of the one in force; raises the first
    change's refusal (an ``InvalidTransaction``) and changes nothing."""
    draft = start_draft(state)
    for change in changes:
        CHANGE_RULES[type(change)](change, draft, state)
    check_draft(draft)
    return draft


def apply_changes(state: ClearingState, changes: Sequence[Change]) -> list[Event]:
    """Check every change, then write them all; returns the events of the writes (a
    final settlement's)."""
    return write_draft(state, build_draft(state, changes))
