"""Shared keys and records for the bridge service tests: the example genesis with
validators' EVM bridge keys derived from public names (test keys only)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from eth_account import Account

from bridge.anvil import AnvilNode
from bridge.chain import Chain, connect
from bridge.devchain import DevnetChain, deploy_devnet_chain
from bridge.validators import EvmValidatorSet
from clearing.attestation import sign_attestation
from clearing.collateral import CollateralObservation
from clearing.genesis import Genesis, Validator, parse_genesis
from clearing.state import ClearingState, WithdrawalRecord, initialize_state
from clearing.transition.withdrawal import PayoutObservation
from clearing.validator_set import install_validators
from clearing.withdrawal_expiry import EXPIRED_DOMAIN, ExpiryObservation
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_seed
from node.bridge.gossip import BridgeCheck, ExpiryAttestation
from node.chainspec import place_collateral
from tests.node.netproc import GENESIS_DOC

CHAIN_ID = 31337
VALIDATORS = 4
BRIDGE_KEYS = [derive_seed(f"bridge-{i}") for i in range(VALIDATORS)]
CONSENSUS_KEYS = [derive_ed25519_key(f"validator-{i}") for i in range(VALIDATORS)]
NEW_BRIDGE_KEY = derive_seed(f"bridge-{VALIDATORS}")
NEW_CONSENSUS_KEY = derive_ed25519_key(f"validator-{VALIDATORS}")
"""The keys of a fifth validator, one governance adds (not in genesis)."""


def get_pubkey(index: int) -> bytes:
    """Validator `index`'s consensus public key (`VALIDATORS`: the fifth's)."""
    key = NEW_CONSENSUS_KEY if index == VALIDATORS else CONSENSUS_KEYS[index]
    return key.public_key().public_bytes_raw()


def get_evm_address(secret: bytes) -> bytes:
    return bytes.fromhex(Account.from_key(secret).address[2:])


def get_genesis_doc(tokens: dict[str, bytes] | None = None) -> dict[str, Any]:
    """The example genesis with derived bridge addresses and, if given, this chain's
    tokens (symbol -> address) in place of the example's placeholders."""
    doc: dict[str, Any] = json.loads(GENESIS_DOC.read_text())
    for validator, secret in zip(doc["validators"], BRIDGE_KEYS, strict=True):
        validator["evm_address"] = "0x" + get_evm_address(secret).hex()
    collateral = [
        {**entry, "token": "0x" + tokens[entry["symbol"]].hex()}
        if tokens and entry["chain_id"] == CHAIN_ID and entry["symbol"] in tokens
        else entry
        for entry in doc["collateral"]
    ]
    place_collateral(doc, collateral)
    return doc


def get_genesis() -> Genesis:
    return parse_genesis(get_genesis_doc())


def get_new_validator(power: int = 10, peer_id: str = "") -> Validator:
    return Validator(f"validator-{VALIDATORS}", get_pubkey(VALIDATORS), power,
                     get_evm_address(NEW_BRIDGE_KEY), peer_id)  # fmt: skip


def get_state_in_force(
    genesis: Genesis, *, add: bool = True, remove: Iterable[int] = (3,), jail: Iterable[int] = ()
) -> ClearingState:
    """The committed state once governance added the fifth validator (`add`), removed
    the genesis validators `remove` and jailed `jail` (power 0)."""
    state = initialize_state(genesis)
    validators = dict(state.validators)
    if add:
        validators[get_pubkey(VALIDATORS)] = get_new_validator()
    for index in remove:
        del validators[get_pubkey(index)]
    for index in jail:
        validators[get_pubkey(index)] = dataclasses.replace(validators[get_pubkey(index)], power=0)
    install_validators(state, validators, state.jailed)
    return state


def make_check(genesis: Genesis, state: ClearingState | None = None) -> BridgeCheck:
    """The first-hop check of a node whose committed state is `state` (genesis' if None)."""
    committed = initialize_state(genesis) if state is None else state
    return BridgeCheck.from_genesis(genesis, lambda: committed)


def get_usdc(genesis: Genesis) -> bytes:
    return next(
        t.token for t in genesis.collateral if t.chain_id == CHAIN_ID and t.symbol == "USDC"
    )


def make_observation(
    genesis: Genesis, quanta: int = 5, log_index: int = 0
) -> CollateralObservation:
    return CollateralObservation(
        chain_id=CHAIN_ID,
        vault=bytes(range(20)),
        tx_hash=bytes(32),
        log_index=log_index,
        deposit_nonce=log_index + 1,
        member=bytes([7]) * 20,
        sub_account=0,
        token=get_usdc(genesis),
        quanta=quanta,
        block_time_s=0,
    )


def make_payout(nonce: int = 1) -> PayoutObservation:
    return PayoutObservation(
        CHAIN_ID, bytes(range(20)), bytes([1]) * 32, 3, bytes([7]) * 20, nonce, block_time_s=0
    )


def make_expiry(nonce: int = 1, block_number: int = 40) -> ExpiryObservation:
    return ExpiryObservation(CHAIN_ID, bytes(range(20)), bytes([7]) * 20, nonce, block_number,
                             10**9 + 1)  # fmt: skip


def attest_expiry(
    index: int, network_chain_id: int, expiry: ExpiryObservation
) -> ExpiryAttestation:
    key = CONSENSUS_KEYS[index]
    body = expiry.to_fields()
    return ExpiryAttestation(expiry, sign_attestation(key, EXPIRED_DOMAIN, network_chain_id, body))


def make_record(genesis: Genesis, nonce: int = 1) -> WithdrawalRecord:
    return WithdrawalRecord(
        member=bytes([7]) * 20,
        sub_account=0,
        chain_id=CHAIN_ID,
        token=get_usdc(genesis),
        quanta=2,
        amount=2,
        recipient=bytes([7]) * 20,
        nonce=nonce,
        height=3,
        expiry=10**9,
    )


@contextmanager
def open_test_chain() -> Iterator[tuple[Chain, DevnetChain]]:
    """A fresh anvil chain with a vault trusting the test validators' bridge keys, and a
    USDC."""
    with AnvilNode(chain_id=CHAIN_ID) as node:
        evm = connect(node.url, CHAIN_ID)
        validators = EvmValidatorSet.from_members(
            0, [(get_evm_address(k), 10) for k in BRIDGE_KEYS]
        )
        yield evm, deploy_devnet_chain(evm, validators, [("USDC", 6)])
