"""node/chainread.py against a real anvil chain: a vault's balances at the latest block
and at a past one; a chain that cannot be read is Unreadable, saying why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, account_from_key, connect
from bridge.devchain import DevnetChain, deploy_devnet_chain, mine
from bridge.loopback import get_free_port
from bridge.validators import EvmValidatorSet
from bridge.vault import deposit_token
from clearing.genesis import Genesis, parse_genesis
from node.chainread import find_block_at, get_block_time_ms, read_vaults
from node.chainspec import place_collateral, place_vaults
from proofs.reserves import Unreadable, VaultReading

ROOT = Path(__file__).resolve().parents[2]
CHAIN_ID = 31337
MEMBER = bytes([7]) * 20
LATER_MS = 4_000_000_000_000
"""A time after every block of the test: the vault is read at the chain's head."""

pytestmark = pytest.mark.chain


@pytest.fixture
def chain() -> Iterator[tuple[Chain, DevnetChain]]:
    with AnvilNode(chain_id=CHAIN_ID) as node:
        evm = connect(node.url, CHAIN_ID)
        validators = EvmValidatorSet.from_members(0, [(bytes([1]) * 20, 10)])
        yield evm, deploy_devnet_chain(evm, validators, [("USDC", 6)])


def genesis_with(dev: DevnetChain, vault: bool = True) -> Genesis:
    doc = json.loads((ROOT / "configs" / "genesis.example.json").read_text())
    usdc = next(e for e in doc["collateral"] if e["symbol"] == "USDC")
    place_collateral(
        doc, [{**usdc, "chain_id": CHAIN_ID, "token": "0x" + dev.tokens["USDC"].hex()}]
    )
    place_vaults(doc, {CHAIN_ID: dev.vault} if vault else {})
    return parse_genesis(doc)


def test_the_vault_is_read_at_the_latest_block_or_the_one_asked(
    chain: tuple[Chain, DevnetChain],
) -> None:
    evm, dev = chain
    genesis = genesis_with(dev)
    before = int(evm.request("eth_blockNumber", []), 16)
    vault = evm.contract("CollateralVault", to_checksum_address(dev.vault))
    token = evm.contract("TestToken", to_checksum_address(dev.tokens["USDC"]))
    deposit_token(evm, vault, token, 1_500, MEMBER, account_from_key(DEV_PRIVATE_KEY))
    mine(evm)
    (now,) = read_vaults(genesis, {CHAIN_ID: evm.url}, {}, LATER_MS).values()
    assert isinstance(now, VaultReading) and now.vault == dev.vault
    assert now.block > before and now.balances == {dev.tokens["USDC"]: 1_500}
    (then,) = read_vaults(genesis, {CHAIN_ID: evm.url}, {CHAIN_ID: before}, LATER_MS).values()
    assert isinstance(then, VaultReading)
    assert (then.block, then.balances) == (before, {dev.tokens["USDC"]: 0})


def test_a_chain_that_cannot_be_read_says_why(chain: tuple[Chain, DevnetChain]) -> None:
    evm, dev = chain
    nobody = f"http://127.0.0.1:{get_free_port()}"
    (down,) = read_vaults(genesis_with(dev), {CHAIN_ID: nobody}, {}, LATER_MS).values()
    assert isinstance(down, Unreadable) and down.reason.startswith(nobody)
    (other,) = read_vaults(genesis_with(dev), {CHAIN_ID + 1: evm.url}, {}, LATER_MS).values()
    assert other == Unreadable(CHAIN_ID + 1, "genesis names no vault on this chain")
    (none,) = read_vaults(
        genesis_with(dev, vault=False), {CHAIN_ID: evm.url}, {}, LATER_MS
    ).values()
    assert none == Unreadable(CHAIN_ID, "genesis names no vault on this chain")


def test_by_default_the_vault_is_read_at_the_reports_time(
    chain: tuple[Chain, DevnetChain],
) -> None:
    evm, _ = chain
    mine(evm, 3)
    head = int(evm.request("eth_blockNumber", []), 16)
    last = get_block_time_ms(evm, head)
    evm.request("evm_increaseTime", [60])
    mine(evm)
    later = get_block_time_ms(evm, head + 1)
    assert later >= last + 60_000
    assert find_block_at(evm, last) == head and find_block_at(evm, later - 1) == head
    assert find_block_at(evm, later) == head + 1 and find_block_at(evm, 0) == 0
