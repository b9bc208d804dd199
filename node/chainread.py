"""The vaults' balances, read on chain for `clearnode verify --rpc` (proofs/reserves.py
compares them with a report). A chain that does not answer, serves another chain id,
or lacks a vault in genesis is `Unreadable` with the reason: the verifier says it
could not check, never crashes."""

from __future__ import annotations

from collections.abc import Mapping

from web3.exceptions import Web3Exception

from bridge.chain import Chain, ChainError, connect
from bridge.vault import get_vault_balances
from clearing.genesis import Genesis
from proofs.reserves import Unreadable, VaultReading

RPC_TIMEOUT_S = 10.0


def read_vaults(
    genesis: Genesis, urls: Mapping[int, str], blocks: Mapping[int, int], time_ms: int
) -> dict[int, VaultReading | Unreadable]:
    """Each chain of `urls`: its genesis vault's balance of every genesis token on it, at
    `blocks[chain]`, else at the chain's last block no later than `time_ms` (the report's
    time: a withdrawal paid since left the vault after the report counted it)."""
    vaults = {v.chain_id: v.address for v in genesis.vaults}
    readings: dict[int, VaultReading | Unreadable] = {}
    for chain_id, url in sorted(urls.items()):
        vault = vaults.get(chain_id)
        if vault is None:
            readings[chain_id] = Unreadable(chain_id, "genesis names no vault on this chain")
            continue
        tokens = [t.token for t in genesis.collateral if t.chain_id == chain_id]
        try:
            chain = connect(url, chain_id, timeout=RPC_TIMEOUT_S)
            block = blocks.get(chain_id)
            if block is None:
                block = find_block_at(chain, time_ms)
            balances = get_vault_balances(chain, vault, tokens, block)
        except (ChainError, Web3Exception, OSError, ValueError) as exc:
            readings[chain_id] = Unreadable(chain_id, f"{url}: {type(exc).__name__}: {exc}")
            continue
        readings[chain_id] = VaultReading(chain_id, vault, block, balances)
    return readings


def find_block_at(chain: Chain, time_ms: int) -> int:
    """The last block whose timestamp is at or before `time_ms` (binary search over block
    timestamps, which never decrease); the chain's first block if all are later."""
    low, high = 0, int(chain.request("eth_blockNumber", []), 16)
    while low < high:
        middle = (low + high + 1) // 2
        if get_block_time_ms(chain, middle) <= time_ms:
            low = middle
        else:
            high = middle - 1
    return low


def get_block_time_ms(chain: Chain, number: int) -> int:
    block = chain.request("eth_getBlockByNumber", [hex(number), False])
    return int(block["timestamp"], 16) * 1000
