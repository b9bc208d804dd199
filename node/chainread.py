"""The vaults' balances and what their `Withdrawn` logs paid out, read on chain for
`clearnode verify --rpc` (proofs/reserves.py compares them with a report). A chain that
does not answer, serves another chain id, or lacks a vault in genesis is `Unreadable`
with the reason: the verifier says it could not check, never crashes."""

from __future__ import annotations

from collections.abc import Mapping

from web3.exceptions import Web3Exception

from bridge.chain import Chain, ChainError, connect
from bridge.payouts import WITHDRAWN_TOPIC_HEX
from bridge.vault import get_vault_balances
from clearing.genesis import Genesis
from proofs.reserves import Unreadable, VaultReading

RPC_TIMEOUT_S = 10.0


def read_vaults(
    genesis: Genesis, urls: Mapping[int, str], blocks: Mapping[int, int], time_ms: int
) -> dict[int, VaultReading | Unreadable]:
    """Each chain of `urls`: its genesis vault's balance of every genesis token on it, and
    what it paid out of each since its first block, at `blocks[chain]`, else at the
    chain's last block no later than `time_ms` (the report's time)."""
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
            withdrawn = get_withdrawn(chain, vault, tokens, block)
        except (ChainError, Web3Exception, OSError, ValueError, KeyError, TypeError) as exc:
            readings[chain_id] = Unreadable(chain_id, f"{url}: {type(exc).__name__}: {exc}")
            continue
        readings[chain_id] = VaultReading(chain_id, vault, block, balances, withdrawn)
    return readings


def get_withdrawn(chain: Chain, vault: bytes, tokens: list[bytes], block: int) -> dict[bytes, int]:
    """What the vault's `Withdrawn(nonce, member, token, amount, recipient)` logs paid out
    of each token up to `block` (its token is the third topic, its amount the data's
    first word)."""
    flt = {"address": "0x" + vault.hex(), "topics": [WITHDRAWN_TOPIC_HEX], "fromBlock": "0x0",
           "toBlock": hex(block)}  # fmt: skip
    paid = dict.fromkeys(tokens, 0)
    for log in chain.request("eth_getLogs", [flt]):
        token = bytes.fromhex(log["topics"][3][-40:])
        if token in paid:
            paid[token] += int(log["data"][2:66], 16)
    return paid


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
