"""Keep each vault's validator set equal to the consensus validator set.

When consensus changes its set (or powers), the vault's current quorum signs a
`Rotation` to the new set with a strictly larger epoch; anyone relays it. Every
validator derives the same target from the same consensus set, so the signatures
are over identical bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.contract import Contract

from bridge.chain import Chain
from bridge.eip712 import compute_digest, compute_rotation_struct_hash, sign_digest
from bridge.validators import EvmValidatorSet
from bridge.vault import get_validator_set
from clearing.genesis import Validator


def get_consensus_members(validators: Iterable[Validator]) -> list[tuple[bytes, int]]:
    """(EVM address, power) of each consensus validator: what every vault must trust."""
    return [(v.evm_address, v.power) for v in validators]


def compute_target_set(
    current: EvmValidatorSet, consensus_members: Iterable[tuple[bytes, int]]
) -> EvmValidatorSet | None:
    """The set the vault should move to, or None when it already matches consensus."""
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


def relay_rotation(
    chain: Chain,
    vault: Contract,
    target: EvmValidatorSet,
    signatures: list[bytes],
    sender: LocalAccount,
) -> dict[str, Any]:
    """Submit a rotation; `signatures` from the current set, ordered by signer."""
    call = vault.functions.rotate(
        target.epoch,
        [to_checksum_address(a) for a in target.addresses],
        target.powers,
        signatures,
    )
    return chain.transact(call, sender)


def is_in_sync(vault: Contract, consensus_members: Iterable[tuple[bytes, int]]) -> bool:
    current = get_validator_set(vault)
    return compute_target_set(current, consensus_members) is None
