"""Who signs for the bridge: the validators of the set in force, with their power.

Governance adds, removes and re-keys validators and committed evidence jails one
(power 0), so the bridge never reads the genesis set: every count and check reads
the committed state's `validators` (clearing/validator_set.py), as clearing does
when it verifies a quorum. The first-hop checks (gossip.py) and the request budgets
(admission.py) read it when a message arrives, the pools follow it after every
commit, and this validator's own signing asks `OwnKeys` each time it would sign.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.eip712 import get_address
from clearing.genesis import Validator
from clearing.state import ClearingState
from clearing.validator_set import has_power

log = logging.getLogger(__name__)


def find_evm_validator(state: ClearingState, address: bytes) -> Validator | None:
    """The validator of the set in force whose EVM address is `address` (unique there)."""
    return next((v for v in state.validators.values() if v.evm_address == address), None)


def describe_absence(validator: Validator | None) -> str:
    return "not in the validator set in force" if validator is None else "jailed (power 0)"


@dataclass
class OwnKeys:
    """This validator's consensus key and its bridge (EVM) key, loaded at start; each
    signs only while the set in force lists it with power, so a validator governance
    adds signs from the block that adds it and one removed or jailed stops, without a
    restart. Each change of what it may sign is logged once."""

    pubkey: bytes  # Ed25519 consensus key
    bridge_key: bytes | None  # secp256k1 secret; None: no bridge key file
    state: Callable[[], ClearingState]
    noted: dict[str, str] = field(default_factory=dict)  # the last reason logged, by duty
    address: bytes | None = field(init=False)  # the bridge key's EVM address

    def __post_init__(self) -> None:
        self.address = None if self.bridge_key is None else get_address(self.bridge_key)

    def can_attest(self) -> bool:
        """Its Ed25519 attestations (deposits, payouts, expiries) count."""
        validator = self.state().validators.get(self.pubkey)
        reason = "" if has_power(validator) else self.describe(validator)
        return self.note("bridge attestations", reason)

    def get_bridge_key(self) -> bytes | None:
        """The bridge key, while the set in force lists this validator with power and
        that key's address; None otherwise (not added yet, removed, jailed, or its EVM
        address rotated by governance to one this node has no key for)."""
        if self.bridge_key is None or self.address is None:
            return None
        validator = self.state().validators.get(self.pubkey)
        reason = "" if has_power(validator) else self.describe(validator)
        if not reason and validator is not None and validator.evm_address != self.address:
            reason = (
                f"the set in force lists EVM address 0x{validator.evm_address.hex()} for "
                f"validator key 0x{self.pubkey.hex()}, the bridge key is 0x{self.address.hex()}"
            )
        return self.bridge_key if self.note("withdrawal and rotation signatures", reason) else None

    def describe(self, validator: Validator | None) -> str:
        return f"validator key 0x{self.pubkey.hex()} is {describe_absence(validator)}"

    def note(self, duty: str, reason: str) -> bool:
        """True when `reason` is empty (it may sign); logs each change."""
        if self.noted.get(duty, "") != reason:
            if reason:
                log.warning("no %s from this validator: %s", duty, reason)
            else:
                log.info("%s from this validator: signing (the set in force lists it)", duty)
            self.noted[duty] = reason
        return not reason
