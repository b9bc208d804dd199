"""Changing the validator set: adding a validator, removing one, changing its power,
rotating its keys, unjailing it. All delayed (members and the vaults see a new set
coming; a set change is never an emergency measure), all written through the draft, so
a proposal's set changes and its other changes take effect together or not at all.

Each entry is checked as the genesis checks a validator (a non-empty name, a 32-byte
key, a power in [1, 2**64 - 1], a 20-byte EVM address); the finished set by
``check_validator_set``. A jailed validator changes only by being unjailed (which gives it
back the power it had) or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from clearing.genesis import Validator
from clearing.governance.draft import Draft, declare_change
from clearing.governance.validator_errors import (
    EvidenceStillFresh,
    InvalidValidator,
    NoValidatorChange,
    UnknownValidator,
    ValidatorJailed,
    ValidatorListed,
    ValidatorNotJailed,
)
from clearing.state import ClearingState
from clearing.units import MAX_UINT64
from clearing.validator_set import decode_validator
from lightclient.codec import MAX_EVIDENCE_AGE_BLOCKS, expect_list
from lightclient.records import Address, Declared, PublicKey, Uint


def check_power(power: int) -> None:
    if not 1 <= power <= MAX_UINT64:
        raise InvalidValidator("power", f"an integer in [1, {MAX_UINT64}]", power)


def get_free_validator(draft: Draft, pubkey: bytes) -> Validator:
    """The validator of ``pubkey``, not jailed."""
    validator = draft.validators.get(pubkey)
    if validator is None:
        raise UnknownValidator(pubkey)
    jailing = draft.jailed.get(pubkey)
    if jailing is not None:
        raise ValidatorJailed(pubkey, jailing.evidence_height)
    return validator


@dataclass(frozen=True, slots=True)
class AddValidator:
    NAME: ClassVar[str] = "add_validator"
    EMERGENCY: ClassVar[bool] = False
    validator: Validator

    def to_fields(self) -> list[object]:
        v = self.validator
        return [self.NAME, v.name, v.pubkey, v.power, v.evm_address, v.peer_id]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> AddValidator:
        return cls(decode_validator(expect_list(fields, cls.NAME, 6)[1:]))

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """A new consensus key (never the key of a validator in the set, jailed or not),
        joining at the end of the set order."""
        v = self.validator
        check_power(v.power)
        if v.pubkey in draft.validators:
            raise ValidatorListed("pubkey", v.pubkey)
        draft.validators[v.pubkey] = v


@declare_change
@dataclass(frozen=True, slots=True)
class RemoveValidator(Declared):
    NAME: ClassVar[str] = "remove_validator"
    EMERGENCY: ClassVar[bool] = False
    pubkey: PublicKey

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """A validator in the set, jailed or not (its jailing goes with it)."""
        if self.pubkey not in draft.validators:
            raise UnknownValidator(self.pubkey)
        del draft.validators[self.pubkey]
        draft.jailed.pop(self.pubkey, None)


@declare_change
@dataclass(frozen=True, slots=True)
class SetValidatorPower(Declared):
    NAME: ClassVar[str] = "set_validator_power"
    EMERGENCY: ClassVar[bool] = False
    pubkey: PublicKey
    power: Uint

    def apply(self, draft: Draft, state: ClearingState) -> None:
        validator = get_free_validator(draft, self.pubkey)
        check_power(self.power)
        if self.power == validator.power:
            raise NoValidatorChange(self.pubkey)
        draft.validators[self.pubkey] = replace(validator, power=self.power)


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

    def apply(self, draft: Draft, state: ClearingState) -> None:
        validator = get_free_validator(draft, self.pubkey)
        if (self.new_pubkey, self.new_evm_address) == (validator.pubkey, validator.evm_address):
            raise NoValidatorChange(self.pubkey)
        if self.new_pubkey != self.pubkey and self.new_pubkey in draft.validators:
            raise ValidatorListed("pubkey", self.new_pubkey)
        rotated = replace(validator, pubkey=self.new_pubkey, evm_address=self.new_evm_address)
        draft.validators = {
            (rotated.pubkey if k == self.pubkey else k): (rotated if k == self.pubkey else v)
            for k, v in draft.validators.items()
        }


@declare_change
@dataclass(frozen=True, slots=True)
class UnjailValidator(Declared):
    NAME: ClassVar[str] = "unjail_validator"
    EMERGENCY: ClassVar[bool] = False
    pubkey: PublicKey

    def apply(self, draft: Draft, state: ClearingState) -> None:
        """A jailed validator whose evidence is too old to be committed again, back with
        the power it had."""
        jailing = draft.jailed.get(self.pubkey)
        if jailing is None:
            raise ValidatorNotJailed(self.pubkey)
        earliest = jailing.evidence_height + MAX_EVIDENCE_AGE_BLOCKS + 1
        if state.height < earliest:
            raise EvidenceStillFresh(self.pubkey, jailing.evidence_height, earliest)
        del draft.jailed[self.pubkey]
        validator = draft.validators[self.pubkey]
        draft.validators[self.pubkey] = replace(validator, power=jailing.power)


VALIDATOR_CHANGES = (
    AddValidator, RemoveValidator, SetValidatorPower, RotateValidatorKeys, UnjailValidator,
)  # fmt: skip
