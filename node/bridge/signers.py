"""Who signs for the bridge: the validators of the set in force, with their power.

Governance adds, removes and re-keys validators and committed evidence jails one
(power 0), so the bridge never reads the genesis set: every count and check reads
the committed state's `validators` (clearing/validator_set.py), as clearing does
when it verifies a quorum. The first-hop checks (gossip.py) and the request budgets
(admission.py) read it when a message arrives, the pools follow it after every
commit, and this validator's own signing asks `OwnKeys` each time it would sign.

One exception: vault rotations. A vault trusts the set it was last rotated to, so a
validator removed or jailed keeps signing rotations for `[bridge]
rotation_grace_blocks` after it lost its power (`get_retiring_validators`): removing a
third of a vault's power at once would otherwise leave the vault unable to rotate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.eip712 import get_address
from clearing.genesis import Validator
from clearing.state import ClearingState
from clearing.validator_set import get_retiring_validators, has_power

log = logging.getLogger(__name__)


def find_evm_validator(state: ClearingState, address: bytes) -> Validator | None:
    """The validator of the set in force whose EVM address is `address` (unique there)."""
    return next((v for v in state.validators.values() if v.evm_address == address), None)


def find_retiring_evm_validator(state: ClearingState, address: bytes,
                                window: int) -> Validator | None:  # fmt: skip
    """The validator that lost its power within the last `window` blocks whose last record
    with power has EVM address `address` (get_retiring_validators), or None."""
    retiring = get_retiring_validators(state, window)
    return next((v for v in retiring if v.evm_address == address), None)


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
    rotation_grace_blocks: int = 0  # [bridge] rotation_grace_blocks
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

    def get_rotation_key(self) -> bytes | None:
        """The bridge key for vault rotations: whenever it may sign withdrawals, and for
        `rotation_grace_blocks` after this validator lost its power while its last record
        with power names the key's address. A vault that has not rotated yet trusts that
        key still (the rotator signs only a vault whose set lists it), and its signature
        may be what the rotation lacks."""
        key = self.get_bridge_key()
        if key is not None or self.bridge_key is None or self.address is None:
            return key
        state = self.state()
        retiring = find_retiring_evm_validator(state, self.address, self.rotation_grace_blocks)
        reason = "" if retiring is not None and retiring.pubkey == self.pubkey else (
            f"validator key 0x{self.pubkey.hex()} with EVM address 0x{self.address.hex()} had "
            f"no power in the last {self.rotation_grace_blocks} blocks "
            f"([bridge] rotation_grace_blocks)"
        )  # fmt: skip
        signing = "signing the rotations of vaults that still trust this key, as it lost its power"
        return self.bridge_key if self.note("retiring rotation signatures", reason,
                                            signing) else None  # fmt: skip

    def describe(self, validator: Validator | None) -> str:
        return f"validator key 0x{self.pubkey.hex()} is {describe_absence(validator)}"

    def note(
        self, duty: str, reason: str, signing: str = "signing (the set in force lists it)"
    ) -> bool:
        """True when `reason` is empty (it may sign); logs each change."""
        if self.noted.get(duty) != reason:
            if reason:
                log.warning("no %s from this validator: %s", duty, reason)
            else:
                log.info("%s from this validator: %s", duty, signing)
            self.noted[duty] = reason
        return not reason
