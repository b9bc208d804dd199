"""The configuration a proposal's changes build, checked whole before it is written.

Changes apply in order to a ``Draft`` (copies of the governed records: instruments,
venues, the risk section, instrument statuses, external bridges, listing templates, the
fee split, the collateral tokens' haircuts, validators and jailings, the admitted
clearing members, the upgrade planned), each checking
itself against the draft so far and the state; the finished draft is checked as a whole
(the risk parameters cover every instrument and template, the validator set is a valid
set) and only then written. So a proposal is all-or-nothing, at its submission (where
the draft is discarded) and at its execution alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from clearing.assets import CollateralKey, CollateralToken
from clearing.errors import GenesisError
from clearing.events import Event
from clearing.expiry import settle_instruments
from clearing.genesis import ExternalBridge, Validator, Venue
from clearing.governance.errors import InvalidRiskParams, RiskNotCovering
from clearing.instruments import Instrument, InstrumentStatus
from clearing.listing_template import ListingTemplate
from clearing.risk.arrays import get_risk_factor
from clearing.risk.params import RiskParams, parse_risk_params
from clearing.risk.scenarios import compute_scenario_set, compute_stress_scenario_set
from clearing.state import ClearingState, Jailing
from clearing.upgrade_plan import UpgradePlan
from clearing.validator_set import check_validator_set, install_validators


@dataclass(slots=True)
class Draft:
    instruments: dict[str, Instrument]  # in listing order (the risk arrays' row order)
    venues: dict[str, Venue]
    risk: Mapping[str, Any]
    statuses: dict[str, InstrumentStatus]  # only instruments not active
    external_bridges: dict[str, ExternalBridge]  # by id
    templates: dict[str, ListingTemplate]
    fee_to_insurance_bps: int
    collateral: dict[CollateralKey, CollateralToken]  # in genesis order
    validators: dict[bytes, Validator]  # in set order
    jailed: dict[bytes, Jailing]
    clearing_members: set[bytes] = field(default_factory=set)  # admitted (clearing/roles.py)
    upgrade_plan: UpgradePlan | None = None  # the one in force (clearing/upgrade.py)
    listed: dict[str, int] = field(default_factory=dict)  # listed by this draft -> mark
    settlements: dict[str, int] = field(default_factory=dict)  # perpetual -> final price


def start_draft(state: ClearingState) -> Draft:
    return Draft(
        dict(state.instruments), dict(state.venues), state.genesis.risk,
        dict(state.instrument_status), {b.id: b for b in state.genesis.external_bridges},
        {t.id: t for t in state.genesis.listing_templates},
        state.genesis.fee_to_insurance_bps, dict(state.collateral_tokens),
        dict(state.validators), dict(state.jailed), set(state.clearing_members),
        state.upgrade_plan,
    )  # fmt: skip


def check_risk_section(section: Mapping[str, Any]) -> RiskParams:
    """What ``get_risk_setup`` will build from ``section``, built now so that a section
    that would fail there (and halt the chain) is refused as a change."""
    try:
        params = parse_risk_params(section)
        compute_scenario_set(params)
        compute_stress_scenario_set(params)
    except GenesisError as error:
        raise InvalidRiskParams(error.key, error.expected, error.got) from None
    return params


def check_draft(draft: Draft) -> None:
    """The validator set is one consensus can run; with margining on, every instrument's
    risk factor has parameters (the risk arrays would otherwise fail at the next margin
    check), and so has every template's (the series it will list)."""
    check_validator_set(draft.validators)
    if not draft.risk:
        return
    params = check_risk_section(draft.risk)
    for instrument in draft.instruments.values():
        factor = get_risk_factor(instrument, draft.instruments)
        if params.underlying(factor) is None:
            raise RiskNotCovering(instrument.id, factor)
    for template in draft.templates.values():
        if params.underlying(template.future.underlying) is None:
            raise RiskNotCovering(template.id, template.future.underlying)


def write_draft(state: ClearingState, draft: Draft) -> list[Event]:
    """The draft becomes the configuration in force: the state's records, and the
    ``state.genesis`` every rule reads (a new record: the risk caches, keyed by its
    identity, rebuild from it); perpetuals it settles are settled (their events)."""
    for instrument_id, mark in draft.listed.items():
        state.mark_prices[instrument_id] = mark
        state.open_interest[instrument_id] = 0
        if draft.instruments[instrument_id].is_perpetual():
            state.funding_indices[instrument_id] = 0
            state.last_funding_ms[instrument_id] = state.time_ms
    state.instrument_status = draft.statuses
    state.clearing_members = draft.clearing_members
    state.upgrade_plan = draft.upgrade_plan
    if draft.validators != state.validators or draft.jailed != state.jailed:
        install_validators(state, draft.validators, draft.jailed)
    install_configuration(state, draft)
    return settle_instruments(state, draft.settlements) if draft.settlements else []


def install_configuration(state: ClearingState, draft: Draft) -> None:
    """The configuration in force: the state's indexes and a new ``state.genesis`` record
    holding the draft's records (the risk caches, keyed by its identity, rebuild from it)."""
    state.instruments, state.venues = draft.instruments, draft.venues
    state.collateral_tokens = draft.collateral
    state.genesis = replace(
        state.genesis,
        instruments=tuple(draft.instruments.values()),
        venues=tuple(draft.venues.values()),
        risk=draft.risk,
        external_bridges=tuple(draft.external_bridges.values()),
        listing_templates=tuple(draft.templates.values()),
        fee_to_insurance_bps=draft.fee_to_insurance_bps,
        collateral=tuple(draft.collateral.values()),
    )
