"""Dev-chain conveniences on anvil: many deposits fast, mining, snapshots.

Uses anvil's unlocked dev accounts (`eth_sendTransaction` signed by the node) and
batched JSON-RPC, so tests and benchmarks can create thousands of deposits in
seconds. Never for real chains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from web3.contract import Contract

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, account_from_key
from bridge.validators import EvmValidatorSet
from bridge.vault import deploy_test_token, deploy_vault, get_vault_address

DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil account 0


@dataclass(frozen=True)
class DevnetChain:
    """What a devnet chain holds: its vault and test tokens (symbol -> 20-byte address)."""

    chain_id: int
    url: str
    vault: bytes
    tokens: dict[str, bytes]


def deploy_devnet_chain(
    chain: Chain, validator_set: EvmValidatorSet, token_symbols: Sequence[tuple[str, int]]
) -> DevnetChain:
    """Deploy a vault trusting `validator_set` and a TestToken per (symbol, decimals).

    From a fresh anvil the addresses are always the same (dev account nonces 0, 1, ...).
    """
    dev = account_from_key(DEV_PRIVATE_KEY)
    vault = deploy_vault(chain, validator_set, dev)
    tokens = {
        symbol: bytes.fromhex(deploy_test_token(chain, dev, symbol, decimals).address[2:])
        for symbol, decimals in token_symbols
    }
    return DevnetChain(chain.chain_id, chain.url, get_vault_address(vault), tokens)


def mine(chain: Chain, blocks: int = 1) -> None:
    chain.request("anvil_mine", [hex(blocks)])


def finalize(chain: Chain) -> None:
    """Mine enough blocks that everything so far is below anvil's `finalized` tag (head-64)."""
    mine(chain, 65)


def send_native_deposits(
    chain: Chain,
    vault: Contract,
    members: Sequence[bytes],
    amount: int = 1,
    per_block: int | None = None,
) -> list[str]:
    """One native deposit per entry of `members`, sent by the dev account and mined on
    return: `per_block` to a block, or as many as a block holds. Returns the tx hashes.

    Automine is paused while they go in, and the blocks are mined here: anvil's auto
    miner can leave a ready transaction of a batch unmined for good (foundry-rs/foundry
    #10122; seen here as one deposit of twenty still pending after 60 s), and a deposit
    left in anvil's pool would vanish with a restart.
    """
    calls = []
    nonce = int(chain.request("eth_getTransactionCount", [DEV_ADDRESS, "pending"]), 16)
    for offset, member in enumerate(members):
        data = vault.encode_abi("depositNative", [to_checksum_address(member), 0])
        tx = {
            "from": DEV_ADDRESS,
            "to": vault.address,
            "value": hex(amount),
            "data": data,
            "gas": hex(100_000),
            "nonce": hex(nonce + offset),
        }
        calls.append(("eth_sendTransaction", [tx]))
    batch = per_block or max(len(calls), 1)
    hashes: list[str] = []
    chain.request("evm_setAutomine", [False])
    try:
        for start in range(0, len(calls), batch):
            sent = chain.batch_request(calls[start : start + batch])
            hashes += [str(h) for h in sent]
            mine_pool(chain, max_blocks=len(sent))
    finally:
        chain.request("evm_setAutomine", [True])
    return hashes


def mine_pool(chain: Chain, max_blocks: int) -> None:
    """Mine until anvil's pool holds no ready transaction. Each block takes at least
    one while any is ready, so more than `max_blocks` means the pool is stuck."""
    for _ in range(max_blocks):
        if count_ready(chain) == 0:
            return
        mine(chain)
    if (ready := count_ready(chain)) > 0:
        raise PoolStuck(ready, max_blocks, chain.request("txpool_inspect", []))


def count_ready(chain: Chain) -> int:
    return int(chain.request("txpool_status", [])["pending"], 16)


class PoolStuck(RuntimeError):
    def __init__(self, ready: int, blocks: int, pool: object) -> None:
        super().__init__(f"{ready} ready txs still in anvil's pool after {blocks} blocks: {pool}")
        self.ready = ready
        self.blocks = blocks


def snapshot(chain: Chain) -> str:
    return str(chain.request("evm_snapshot", []))


def revert(chain: Chain, snapshot_id: str) -> None:
    if not chain.request("evm_revert", [snapshot_id]):
        raise RuntimeError(f"evm_revert({snapshot_id}) refused")
