"""The rotation every validator derives: the consensus set read from the clearing state,
the deterministic target, and the signed message's wire form."""

from __future__ import annotations

import dataclasses

import pytest

from bridge.eip712 import get_address, recover_signer
from bridge.rotation import (
    Rotation,
    RotationSignature,
    compute_target_set,
    get_consensus_set,
    sign_rotation_message,
)
from bridge.validators import EvmValidatorSet, ValidatorSetError
from bridge.wire import FORMAT_VERSION
from clearing.state import initialize_state
from clearnode.client.sandbox_keys import derive_seed
from records.codec import DecodeError, pack
from tests.node.bridge.support import BRIDGE_KEYS, CHAIN_ID, get_genesis

GENESIS = get_genesis()
ADDRESSES = [get_address(k) for k in BRIDGE_KEYS]
VAULT = bytes(range(20))


def make_rotation() -> Rotation:
    current = EvmValidatorSet.from_members(4, [(a, 10) for a in ADDRESSES[:3]])
    target = EvmValidatorSet.from_members(5, [(a, 10) for a in ADDRESSES])
    return Rotation(CHAIN_ID, VAULT, current, target)


def test_consensus_set_is_the_states_validators_with_power() -> None:
    state = initialize_state(GENESIS)
    assert sorted(get_consensus_set(state)) == sorted((a, 10) for a in ADDRESSES)
    jailed = next(iter(state.validators))
    state.validators[jailed] = dataclasses.replace(state.validators[jailed], power=0)
    assert state.validators[jailed].evm_address not in dict(get_consensus_set(state))
    assert len(get_consensus_set(state)) == 3


def test_target_is_the_consensus_set_at_the_next_epoch_in_any_order() -> None:
    current = EvmValidatorSet.from_members(4, [(a, 10) for a in ADDRESSES[:3]])
    members = [(a, 10) for a in ADDRESSES]
    target = compute_target_set(current, members)
    assert target == compute_target_set(current, list(reversed(members)))
    assert target is not None and target.epoch == 5 and target.addresses == sorted(ADDRESSES)
    assert compute_target_set(current, [(a, 10) for a in reversed(ADDRESSES[:3])]) is None
    reweighted = compute_target_set(current, [(a, 10 + i) for i, a in enumerate(ADDRESSES[:3])])
    assert reweighted is not None and reweighted.addresses == current.addresses
    with pytest.raises(ValidatorSetError):  # one EVM address for two validators
        compute_target_set(current, [(ADDRESSES[0], 10), (ADDRESSES[0], 10)])
    with pytest.raises(ValidatorSetError):
        compute_target_set(current, [])


def test_rotation_signature_round_trips_and_counts_only_the_current_set() -> None:
    rotation = make_rotation()
    signed = sign_rotation_message(rotation, BRIDGE_KEYS[0])
    assert RotationSignature.decode(signed.encode()) == signed
    assert recover_signer(rotation.get_digest(), signed.signature) == ADDRESSES[0]
    newcomer = sign_rotation_message(rotation, BRIDGE_KEYS[3]).signature
    stranger = sign_rotation_message(rotation, derive_seed("stranger")).signature
    collected = rotation.collect([signed.signature, newcomer, stranger, b"\x00" * 65])
    assert list(collected.signatures) == [ADDRESSES[0]] and not collected.is_complete()
    others = [sign_rotation_message(rotation, k).signature for k in BRIDGE_KEYS[1:3]]
    assert rotation.collect([signed.signature, *others]).is_complete()


def encode_fields(rotation: Rotation, **changes: object) -> bytes:
    fields = {
        "chain_id": rotation.chain_id, "vault": rotation.vault,
        "epoch": rotation.current.epoch, "current": rotation.current.addresses,
        "current_powers": rotation.current.powers, "new_epoch": rotation.target.epoch,
        "target": rotation.target.addresses, "powers": rotation.target.powers,
        "signature": bytes(65), **changes,
    }  # fmt: skip
    return pack([FORMAT_VERSION, *fields.values()])


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"new_epoch": 7}, "epoch 4 to 7"),
        ({"target": sorted(ADDRESSES, reverse=True)}, "not strictly ascending"),
        ({"powers": [10, 10, 10]}, "4 addresses, 3 powers"),
        ({"current_powers": [10, 0, 10]}, "power 0"),
        ({"current": [b"\x01" * 19, *ADDRESSES[1:3]]}, "expected 20 bytes, got 19"),
        ({"vault": bytes(19)}, "vault: expected 20 bytes, got 19"),
        ({"target": "0x01"}, "must be lists"),
    ],
)
def test_malformed_rotation_signatures_are_refused(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        RotationSignature.decode(encode_fields(make_rotation(), **changes))
    assert reason in str(caught.value)
