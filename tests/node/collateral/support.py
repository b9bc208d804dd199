"""Shared keys and records for the bridge service tests: the example genesis with
validators' EVM bridge keys derived from public names (test keys only)."""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account

from clearing.attestation import sign_attestation
from clearing.collateral import CollateralObservation
from clearing.genesis import Genesis, parse_genesis
from clearing.sandbox import derive_ed25519_key, derive_seed
from clearing.state import WithdrawalRecord
from clearing.withdrawal import PayoutObservation
from clearing.withdrawal_expiry import EXPIRED_DOMAIN, ExpiryObservation
from node.chainspec import place_collateral
from node.collateral.gossip import ExpiryAttestation
from tests.node.netproc import GENESIS_DOC

CHAIN_ID = 31337
VALIDATORS = 4
BRIDGE_KEYS = [derive_seed(f"bridge-{i}") for i in range(VALIDATORS)]
CONSENSUS_KEYS = [derive_ed25519_key(f"validator-{i}") for i in range(VALIDATORS)]


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
    )


def make_payout(nonce: int = 1) -> PayoutObservation:
    return PayoutObservation(CHAIN_ID, bytes(range(20)), bytes([1]) * 32, 3, bytes([7]) * 20, nonce)


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
