"""Fixtures for bridge tests: real anvil nodes, a vault trusting four validators."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, account_from_key, connect
from bridge.eip712 import get_address, sign_digest
from bridge.validators import EvmValidatorSet
from bridge.vault import deploy_test_token, deploy_vault, get_vault_address


@dataclass(frozen=True)
class VaultSigner:
    """A validator's keys as the vault tests sign with them (clearing's `Validator` is the
    ledger's record of one)."""

    name: str
    evm_key: bytes
    ed25519_seed: bytes

    @property
    def address(self) -> bytes:
        return get_address(self.evm_key)

    @property
    def account(self) -> LocalAccount:
        return account_from_key(self.evm_key)


def make_validators(count: int, tag: str = "v") -> list[VaultSigner]:
    """Deterministic keys, sorted by EVM address (the order the vault wants)."""
    made = [
        VaultSigner(f"{tag}{i}", keccak(text=f"evm-{tag}{i}"), keccak(text=f"ed-{tag}{i}"))
        for i in range(count)
    ]
    return sorted(made, key=lambda v: v.address)


def make_set(validators: list[VaultSigner], epoch: int = 0) -> EvmValidatorSet:
    return EvmValidatorSet.from_members(epoch, [(v.address, 1) for v in validators])


def sign_all(digest: bytes, validators: list[VaultSigner]) -> list[bytes]:
    """Signatures of `validators` over `digest`, ordered by signer address."""
    return [sign_digest(digest, v.evm_key) for v in sorted(validators, key=lambda v: v.address)]


@dataclass
class VaultEnv:
    chain: Chain
    vault: Contract
    token: Contract
    validators: list[VaultSigner]
    dev: LocalAccount

    @property
    def vault_address(self) -> bytes:
        return get_vault_address(self.vault)

    @property
    def token_address(self) -> bytes:
        return bytes.fromhex(self.token.address[2:])

    def get_time(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])


@pytest.fixture(scope="module")
def anvil_node() -> Iterator[AnvilNode]:
    with AnvilNode(chain_id=31_001) as node:
        yield node


@pytest.fixture
def vault_env(anvil_node: AnvilNode) -> VaultEnv:
    chain = connect(anvil_node.url, anvil_node.chain_id)
    dev = account_from_key(DEV_PRIVATE_KEY)
    validators = make_validators(4)
    vault = deploy_vault(chain, make_set(validators), dev)
    token = deploy_test_token(chain, dev)
    return VaultEnv(chain, vault, token, validators, dev)
