"""The dev-chain helpers on a real anvil: deposits are mined on return, never left to
anvil's auto miner, and a pool that cannot be emptied says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3.contract import Contract

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, account_from_key, connect
from bridge.devchain import (
    DEV_ADDRESS,
    PoolStuck,
    count_ready,
    mine_pool,
    send_native_deposits,
)
from bridge.vault import deploy_vault
from tests.bridge.conftest import make_set, make_validators

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def chain_and_vault() -> Iterator[tuple[Chain, Contract]]:
    with AnvilNode(chain_id=31_207) as node:
        chain = connect(node.url, node.chain_id)
        vault = deploy_vault(chain, make_set(make_validators(4)), account_from_key(DEV_PRIVATE_KEY))
        yield chain, vault


def member(i: int) -> bytes:
    return (0x5000 + i).to_bytes(20, "big")


def blocks_of(chain: Chain, hashes: list[str]) -> list[int | None]:
    receipts = chain.batch_request([("eth_getTransactionReceipt", [h]) for h in hashes])
    return [None if r is None else int(r["blockNumber"], 16) for r in receipts]


@pytest.mark.parametrize(("per_block", "count"), [(None, 20), (3, 7)])
def test_deposits_are_mined_on_return_per_block_and_automine_is_back_on(
    chain_and_vault: tuple[Chain, Contract], per_block: int | None, count: int
) -> None:
    """Without `per_block` a batch goes in one block; with it, that many to a block."""
    chain, vault = chain_and_vault
    head = chain.get_block_number("latest")
    members = [member(i) for i in range(count)]
    hashes = send_native_deposits(chain, vault, members, amount=3, per_block=per_block)
    assert blocks_of(chain, hashes) == [head + 1 + i // (per_block or count) for i in range(count)]
    assert count_ready(chain) == 0
    assert chain.request("anvil_getAutomine", []) is True


def test_a_pool_no_block_can_empty_raises_with_what_it_holds(
    chain_and_vault: tuple[Chain, Contract],
) -> None:
    chain, _ = chain_and_vault
    limit = int(chain.w3.eth.get_block("latest")["gasLimit"])
    chain.request("evm_setAutomine", [False])
    try:
        tx = {"from": DEV_ADDRESS, "to": DEV_ADDRESS, "value": "0x1", "gas": hex(50_000)}
        stuck = chain.request("eth_sendTransaction", [tx])
        chain.request("evm_setBlockGasLimit", [hex(40_000)])  # too small for the tx's gas
        with pytest.raises(PoolStuck) as raised:
            mine_pool(chain, max_blocks=2)
        assert (raised.value.ready, raised.value.blocks) == (1, 2)
        assert DEV_ADDRESS.lower() in str(raised.value).lower()
        chain.request("evm_setBlockGasLimit", [hex(limit)])
        mine_pool(chain, max_blocks=1)
        assert blocks_of(chain, [stuck]) != [None]
    finally:
        chain.request("evm_setBlockGasLimit", [hex(limit)])
        chain.request("evm_setAutomine", [True])
