"""Equivocation has consequences: a validator key whose duplicate votes consensus
committed as evidence in a block is jailed at the end of that block.

Jailing sets its power to 0 (the tally, attestations and the set consensus and the vaults
follow from height + 2 all see it) and keeps its record, with the evidence height and the
power it had; only a governance change (``unjail_validator``) gives the power back. It
moves no money. Evidence of a key no longer in the set, or already jailed, changes
nothing; the last validator with power is not jailed (an empty set would halt the chain).
"""

from __future__ import annotations

from dataclasses import replace

from clearing.context import BlockContext
from clearing.events import Event, make_event
from clearing.state import ClearingState, Jailing
from clearing.validator_set import install_validators


def process_equivocations(state: ClearingState, ctx: BlockContext) -> list[Event]:
    if not ctx.evidence:
        return []
    validators, jailed = dict(state.validators), dict(state.jailed)
    events: list[Event] = []
    for evidence in ctx.evidence:
        validator = validators.get(evidence.validator)
        if validator is None or validator.power == 0:
            continue
        power_left = sum(v.power for v in validators.values()) - validator.power
        if power_left == 0:
            events.append(
                make_event(
                    "validator_not_jailed",
                    validator=validator.pubkey,
                    evidence_height=evidence.height,
                    reason="the last validator with power",
                )
            )
            continue
        jailed[validator.pubkey] = Jailing(evidence.height, ctx.height, validator.power)
        validators[validator.pubkey] = replace(validator, power=0)
        events.append(
            make_event(
                "validator_jailed",
                validator=validator.pubkey,
                name=validator.name,
                evidence_height=evidence.height,
                power=validator.power,
            )
        )
    if jailed != state.jailed:
        install_validators(state, validators, jailed)
    return events
