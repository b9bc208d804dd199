"""Keep each vault's validator set equal to the consensus validator set.

When consensus changes its set (or powers), the vault's current quorum signs a
`Rotation` to the new set with the next epoch; anyone relays it. Every validator
derives the same target from the same consensus set (`get_consensus_set`: the
clearing state's validators with power > 0, by EVM address) and the same vault set
(read at a final block), so the signatures are over identical bytes.

A `Rotation` names the vault's current set as well as the target: the digest
covers only the current epoch, but whoever pools signatures must know which
addresses may sign and with what power. A relayer trusts no served current set:
it reads the vault's own before sending (bridge/relayer.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from bridge.eip712 import compute_digest, compute_rotation_struct_hash, sign_digest
from bridge.validators import EvmValidatorSet, ValidatorSetError
from bridge.wire import FORMAT_VERSION, Versioned
from bridge.withdrawal import SignatureSet, WithdrawalError
from clearing.genesis import Validator
from clearing.state import ClearingState
from records.codec import DecodeError, expect_bytes, expect_int, unpack
from records.declared import (
    Address,
    ChainId,
    Declared,
    EvmSignature,
    Inline,
    Spread,
    declare_record,
)


def get_consensus_members(validators: Iterable[Validator]) -> list[tuple[bytes, int]]:
    """(EVM address, power) of each validator with power: what every vault must trust."""
    return [(v.evm_address, v.power) for v in validators if v.power > 0]


def get_consensus_set(state: ClearingState) -> list[tuple[bytes, int]]:
    """The consensus validator set as the vaults must trust it: every validator of the
    committed clearing state with power > 0, as (EVM address, power)."""
    return get_consensus_members(state.validators.values())


def compute_target_set(
    current: EvmValidatorSet, consensus_members: Iterable[tuple[bytes, int]]
) -> EvmValidatorSet | None:
    """The set the vault should move to, or None when it already matches consensus.
    Raises ValidatorSetError for a consensus set no vault can hold (empty, an EVM
    address twice)."""
    target = EvmValidatorSet.from_members(current.epoch + 1, consensus_members)
    return None if target.members == current.members else target


def compute_rotation_digest(
    chain_id: int, vault: bytes, current: EvmValidatorSet, target: EvmValidatorSet
) -> bytes:
    struct_hash = compute_rotation_struct_hash(
        current.epoch, target.epoch, target.addresses, target.powers
    )
    return compute_digest(chain_id, vault, struct_hash)


def sign_rotation(
    chain_id: int,
    vault: bytes,
    current: EvmValidatorSet,
    target: EvmValidatorSet,
    evm_private_key: bytes,
) -> bytes:
    return sign_digest(compute_rotation_digest(chain_id, vault, current, target), evm_private_key)


def encode_set(validators: EvmValidatorSet) -> list[Any]:
    return [validators.epoch, validators.addresses, validators.powers]


def decode_set(values: list[Any], what: str) -> EvmValidatorSet:
    """A set from its epoch, addresses and powers: as many of each, a valid set."""
    epoch, addresses, powers = values
    if not isinstance(addresses, list) or not isinstance(powers, list):
        raise DecodeError(what, "addresses and powers must be lists")
    if len(addresses) != len(powers):
        raise DecodeError(what, f"{len(addresses)} addresses, {len(powers)} powers")
    members = tuple(
        (expect_bytes(address, f"{what}.addresses", 20), expect_int(power, f"{what}.powers"))
        for address, power in zip(addresses, powers, strict=True)
    )
    try:
        return EvmValidatorSet(expect_int(epoch, f"{what}.epoch"), members)
    except ValidatorSetError as exc:
        raise DecodeError(what, str(exc)) from None


ValidatorSet = Annotated[EvmValidatorSet, Spread(3, decode_set, encode_set)]
"""A vault's set on the wire: its epoch, its addresses and its powers, three fields."""


@declare_record
@dataclass(frozen=True)
class Rotation(Declared):
    """One vault's move from `current` (as read on chain) to `target` (epoch + 1)."""

    chain_id: ChainId
    vault: Address
    current: ValidatorSet
    target: ValidatorSet

    def get_digest(self) -> bytes:
        return compute_rotation_digest(self.chain_id, self.vault, self.current, self.target)

    def collect(self, signatures: Iterable[bytes]) -> SignatureSet:
        """The valid signatures of members of the current set (others skipped)."""
        collected = SignatureSet(self.get_digest(), self.current)
        for signature in signatures:
            try:
                collected.add(signature)
            except WithdrawalError:
                continue
        return collected


@declare_record(head=FORMAT_VERSION)
@dataclass(frozen=True)
class RotationSignature(Versioned):
    """One validator's EVM signature over a rotation: the gossip message, the rotation's
    fields followed by the signature."""

    rotation: Annotated[Rotation, Inline()]
    signature: EvmSignature

    @classmethod
    def decode(cls, data: bytes) -> RotationSignature:
        """Its fields, then the one check across them: the target is the next epoch."""
        signed = cls.from_fields(unpack(data, cls.__name__))
        current, target = signed.rotation.current.epoch, signed.rotation.target.epoch
        if target != current + 1:
            raise DecodeError("RotationSignature", f"epoch {current} to {target}")
        return signed


def sign_rotation_message(rotation: Rotation, evm_private_key: bytes) -> RotationSignature:
    return RotationSignature(rotation, sign_digest(rotation.get_digest(), evm_private_key))


def get_rotation_relay_json(rotation: Rotation, collected: SignatureSet) -> dict[str, object]:
    """What the HTTP API shows a relayer: `rotate`'s arguments, 0x-hex, ordered, and the
    current set the signatures are counted against."""
    return {
        "chain_id": rotation.chain_id,
        "vault": "0x" + rotation.vault.hex(),
        "epoch": rotation.current.epoch,
        "current_validators": ["0x" + a.hex() for a in rotation.current.addresses],
        "current_powers": [str(p) for p in rotation.current.powers],
        "new_epoch": rotation.target.epoch,
        "validators": ["0x" + a.hex() for a in rotation.target.addresses],
        "powers": [str(p) for p in rotation.target.powers],
        "signatures": ["0x" + s.hex() for s in collected.get_ordered()],
        "signed_power": collected.get_signed_power(),
        "total_power": collected.validator_set.total_power,
        "complete": collected.is_complete(),
    }
