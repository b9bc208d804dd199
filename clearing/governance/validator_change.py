"""Changing the validator set: adding a validator, removing one, changing its power,
rotating its keys, unjailing it. All delayed (members and the vaults see a new set
coming; a set change is never an emergency measure), all written through the draft, so
a proposal's set changes and its other changes take effect together or not at all.

Each entry is checked as the genesis checks a validator (a non-empty name, a 32-byte
key, a power in [1, MAX_TOTAL_POWER], a 20-byte EVM address); the finished set by
``check_validator_set``. A jailed validator changes only by being unjailed (which gives it
back the power it had) or removed.
"""

from __future__ import annotations

from dataclasses import replace

from clearing.genesis import Validator
from clearing.governance.draft import Draft
from clearing.governance_changes import (
    AddValidator,
    RemoveValidator,
    RotateValidatorKeys,
    SetValidatorPower,
    UnjailValidator,
)
from clearing.state import ClearingState
from clearing.validator_errors import (
    EvidenceStillFresh,
    InvalidValidator,
    NoValidatorChange,
    UnknownValidator,
    ValidatorJailed,
    ValidatorListed,
    ValidatorNotJailed,
)
from records.codec import MAX_EVIDENCE_AGE_BLOCKS, MAX_TOTAL_POWER


def check_power(power: int) -> None:
    if not 1 <= power <= MAX_TOTAL_POWER:
        raise InvalidValidator("power", f"an integer in [1, {MAX_TOTAL_POWER}]", power)


def get_free_validator(draft: Draft, pubkey: bytes) -> Validator:
    """The validator of ``pubkey``, not jailed."""
    validator = draft.validators.get(pubkey)
    if validator is None:
        raise UnknownValidator(pubkey)
    jailing = draft.jailed.get(pubkey)
    if jailing is not None:
        raise ValidatorJailed(pubkey, jailing.evidence_height)
    return validator


def apply_add_validator(change: AddValidator, draft: Draft, state: ClearingState) -> None:
    """A new consensus key (never the key of a validator in the set, jailed or not),
    joining at the end of the set order."""
    v = change.validator
    check_power(v.power)
    if v.pubkey in draft.validators:
        raise ValidatorListed("pubkey", v.pubkey)
    draft.validators[v.pubkey] = v


def apply_remove_validator(change: RemoveValidator, draft: Draft, state: ClearingState) -> None:
    """A validator in the set, jailed or not (its jailing goes with it)."""
    if change.pubkey not in draft.validators:
        raise UnknownValidator(change.pubkey)
    del draft.validators[change.pubkey]
    draft.jailed.pop(change.pubkey, None)


def apply_set_validator_power(
    change: SetValidatorPower, draft: Draft, state: ClearingState
) -> None:
    validator = get_free_validator(draft, change.pubkey)
    check_power(change.power)
    if change.power == validator.power:
        raise NoValidatorChange(change.pubkey)
    draft.validators[change.pubkey] = replace(validator, power=change.power)


def apply_rotate_validator_keys(
    change: RotateValidatorKeys, draft: Draft, state: ClearingState
) -> None:
    validator = get_free_validator(draft, change.pubkey)
    if (change.new_pubkey, change.new_evm_address) == (validator.pubkey, validator.evm_address):
        raise NoValidatorChange(change.pubkey)
    if change.new_pubkey != change.pubkey and change.new_pubkey in draft.validators:
        raise ValidatorListed("pubkey", change.new_pubkey)
    rotated = replace(validator, pubkey=change.new_pubkey, evm_address=change.new_evm_address)
    draft.validators = {
        (rotated.pubkey if k == change.pubkey else k): (rotated if k == change.pubkey else v)
        for k, v in draft.validators.items()
    }


def apply_unjail_validator(change: UnjailValidator, draft: Draft, state: ClearingState) -> None:
    """A jailed validator whose evidence is too old to be committed again, back with
    the power it had."""
    jailing = draft.jailed.get(change.pubkey)
    if jailing is None:
        raise ValidatorNotJailed(change.pubkey)
    earliest = jailing.evidence_height + MAX_EVIDENCE_AGE_BLOCKS + 1
    if state.height < earliest:
        raise EvidenceStillFresh(change.pubkey, jailing.evidence_height, earliest)
    del draft.jailed[change.pubkey]
    validator = draft.validators[change.pubkey]
    draft.validators[change.pubkey] = replace(validator, power=jailing.power)
