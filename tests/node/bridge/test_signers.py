"""A validator's own signing follows the validator set in force: governance adds,
removes, jails and re-keys validators, and its withdrawal and rotation signatures
start and stop with the block that does it, without a restart; the bridge key file is
read at start (a clear error when it cannot be)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bridge.eip712 import get_address, recover_signer
from bridge.rotation import RotationSignature, get_consensus_set
from bridge.validators import EvmValidatorSet
from bridge.withdrawal import WithdrawalSignature
from clearing.state import ClearingState, initialize_state
from clearnode.client.sandbox_keys import derive_seed
from node.bridge.rotations import VaultRotator
from node.bridge.service import load_bridge_key
from node.bridge.signers import OwnKeys
from node.bridge.withdrawals import WithdrawalSigner
from node.config import BridgeChainConfig
from node.keys import BRIDGE_KEY, KeyFile, KeyFileError, save_key
from tests.node.bridge.support import (
    BRIDGE_KEYS,
    CHAIN_ID,
    NEW_BRIDGE_KEY,
    VALIDATORS,
    get_genesis,
    get_pubkey,
    get_state_in_force,
    make_record,
)

GENESIS = get_genesis()
VAULT = bytes(range(20))
GENESIS_SET = EvmValidatorSet.from_members(
    0, [(v.evm_address, v.power) for v in GENESIS.validators]
)


class Committed:
    """The node's committed state, which a test moves block by block."""

    def __init__(self) -> None:
        self.state = initialize_state(GENESIS)

    def __call__(self) -> ClearingState:
        return self.state


def make_keys(index: int, committed: Committed, grace: int = 0) -> OwnKeys:
    bridge_key = NEW_BRIDGE_KEY if index == VALIDATORS else BRIDGE_KEYS[index]
    return OwnKeys(get_pubkey(index), bridge_key, committed, grace)


async def test_withdrawal_signatures_start_with_the_block_that_adds_the_validator(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The fifth validator's node runs from genesis with its bridge key: it signs the
    vault's epoch-1 set (which holds it) from the block that adds it, stops when a
    key rotation lists another EVM address for it, and each change is logged once."""
    committed = Committed()
    keys = make_keys(VALIDATORS, committed)
    members = [*GENESIS_SET.members, (get_address(NEW_BRIDGE_KEY), 10)]
    read = {CHAIN_ID: (VAULT, EvmValidatorSet.from_members(1, members))}
    sent: list[WithdrawalSignature] = []

    async def send(signed: WithdrawalSignature) -> None:
        sent.append(signed)

    signer = WithdrawalSigner(keys.get_bridge_key, read.get, send)
    pending = {(make_record(GENESIS).member, 1): make_record(GENESIS)}
    with caplog.at_level(logging.INFO):
        await signer.sign_pending(pending)
        await signer.sign_pending(pending)
        assert sent == []
        committed.state = get_state_in_force(GENESIS)
        await signer.sign_pending(pending)
        (signed,) = sent
        auth = signed.authorization
        assert recover_signer(auth.get_digest(), signed.signature) == get_address(NEW_BRIDGE_KEY)
        rotated = get_state_in_force(GENESIS)
        fifth = rotated.validators[get_pubkey(VALIDATORS)]
        rotated.validators[fifth.pubkey] = dataclasses.replace(fifth, evm_address=bytes(20))
        committed.state = rotated
        assert keys.get_bridge_key() is None and keys.get_bridge_key() is None
    assert caplog.text.count("is not in the validator set in force") == 1
    assert caplog.text.count("withdrawal and rotation signatures from this validator: signing") == 1
    assert caplog.text.count(f"the bridge key is 0x{get_address(NEW_BRIDGE_KEY).hex()}") == 1


class FakeReader:
    """A vault that reads as `current` at a final block."""

    def __init__(self, current: EvmValidatorSet) -> None:
        self.config = BridgeChainConfig("a", CHAIN_ID, "http://unused", "0x" + VAULT.hex(), 1)
        self.current = current

    async def get_final_set(self) -> tuple[int, EvmValidatorSet]:
        return 10, self.current


async def test_rotation_signers_are_the_vaults_members_the_set_in_force_holds() -> None:
    """Governance removes validator 3 and adds 4: the vault (the genesis set) must rotate.
    Validators 0 to 2 sign the rotation; 3 (removed) does not, although the vault still
    trusts its key; 4 is not in the vault's set yet. A jailed validator stops too."""
    committed = Committed()
    sent: list[RotationSignature] = []

    async def send(signed: RotationSignature) -> None:
        sent.append(signed)

    def make_rotator(index: int) -> VaultRotator:
        readers: dict[int, Any] = {CHAIN_ID: FakeReader(GENESIS_SET)}  # reads as a VaultReader
        return VaultRotator(readers, {}, lambda: get_consensus_set(committed.state),
                            make_keys(index, committed).get_bridge_key, send)  # fmt: skip

    rotators = [make_rotator(index) for index in range(VALIDATORS + 1)]

    async def check_all() -> set[bytes]:
        sent.clear()
        for rotator in rotators:
            await rotator.check_all()
        return {recover_signer(s.rotation.get_digest(), s.signature) for s in sent}

    assert await check_all() == set()  # the vault holds the consensus set
    committed.state = get_state_in_force(GENESIS)
    assert await check_all() == {get_address(BRIDGE_KEYS[i]) for i in (0, 1, 2)}
    assert {a for a, _ in sent[0].rotation.target.members} == {
        get_address(k) for k in (*BRIDGE_KEYS[:3], NEW_BRIDGE_KEY)
    }
    committed.state = get_state_in_force(GENESIS, jail=[1])  # a new target: signed again
    assert await check_all() == {get_address(BRIDGE_KEYS[i]) for i in (0, 2)}


async def test_validators_removed_at_once_sign_the_rotation_during_their_grace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Governance removes validators 2 and 3 in one block, half of the vault's power: 0
    and 1 alone cannot rotate it. With a grace of 10 blocks, 2 and 3 sign the rotation
    (logged once each) but no withdrawal; after it, they sign nothing. A rotator without
    a grace leaves the vault stuck."""
    committed = Committed()
    committed.state = get_state_in_force(GENESIS, add=False, remove=(2, 3))
    sent: list[RotationSignature] = []

    async def send(signed: RotationSignature) -> None:
        sent.append(signed)

    async def signers(grace: int) -> set[bytes]:
        sent.clear()
        for index in range(VALIDATORS):
            readers: dict[int, Any] = {CHAIN_ID: FakeReader(GENESIS_SET)}
            keys = make_keys(index, committed, grace)
            rotator = VaultRotator(readers, {}, lambda: get_consensus_set(committed.state),
                                   keys.get_rotation_key, send)  # fmt: skip
            await rotator.check_all()
            assert keys.get_bridge_key() is None or index < 2
        return {recover_signer(s.rotation.get_digest(), s.signature) for s in sent}

    with caplog.at_level(logging.INFO):
        assert await signers(10) == {get_address(k) for k in BRIDGE_KEYS}
    assert caplog.text.count("retiring rotation signatures from this validator: signing") == 2
    assert await signers(0) == {get_address(k) for k in BRIDGE_KEYS[:2]}
    committed.state.height = 10
    assert await signers(10) == {get_address(k) for k in BRIDGE_KEYS[:2]}


def test_the_bridge_key_file_is_read_at_start_when_there_is_one(tmp_path: Path) -> None:
    config = SimpleNamespace(bridge_key_file=tmp_path / "bridge_key.json")
    assert load_bridge_key(config) is None  # type: ignore[arg-type]
    config.bridge_key_file.write_text("{}")
    config.bridge_key_file.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a key file"):
        load_bridge_key(config)  # type: ignore[arg-type]
    config.bridge_key_file.unlink()
    save_key(config.bridge_key_file, KeyFile(BRIDGE_KEY, derive_seed("any")))
    assert load_bridge_key(config) == derive_seed("any")  # type: ignore[arg-type]
