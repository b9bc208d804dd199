"""Builders for the validator-set tests: new validators with sandbox-derived keys, and the
active set as (name, power) pairs."""

from __future__ import annotations

import hashlib

from clearing.genesis import Validator
from clearing.governance_changes import AddValidator
from clearing.validator_set import get_active_validators
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox


def new_validator(name: str = "validator-4", power: int = 10) -> Validator:
    pubkey = derive_ed25519_key(name).public_key().public_bytes_raw()
    return Validator(name, pubkey, power, hashlib.sha256(name.encode()).digest()[:20], "")


def add(name: str = "validator-4", power: int = 10) -> AddValidator:
    return AddValidator(new_validator(name, power))


def pubkey(box: Sandbox, n: int) -> bytes:
    return box.validator_keys[n].public_key().public_bytes_raw()


def active(box: Sandbox) -> list[tuple[str, int]]:
    return [(v.name, v.power) for v in get_active_validators(box.state.validators)]
