"""Dev-chain conveniences on anvil: many deposits fast, mining, snapshots.

Uses anvil's unlocked dev accounts (`eth_sendTransaction` signed by the node) and
batched JSON-RPC, so tests and benchmarks can create thousands of deposits in
seconds. Never for real chains.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from web3.contract import Contract

from bridge.anvil import DEV_PRIVATE_KEY
from bridge.chain import Chain, account_from_key
from bridge.validators import EvmValidatorSet
from bridge.vault import deploy_test_token, deploy_vault, get_vault_address

DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil account 0
RECEIPT_BATCH = 500


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
    """One native deposit per entry of `members`, sent in batches by the dev account.

    With `per_block`, automine is paused and `per_block` deposits go in each mined
    block; otherwise anvil mines them as they arrive. Either way every deposit is
    mined on return (a deposit still in anvil's pool would vanish with a restart).
    Returns the tx hashes.
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
    hashes: list[str] = []
    if per_block is None:
        hashes += [str(h) for h in chain.batch_request(calls)]
        wait_until_mined(chain, hashes)
        return hashes
    chain.request("evm_setAutomine", [False])
    try:
        for start in range(0, len(calls), per_block):
            hashes += [str(h) for h in chain.batch_request(calls[start : start + per_block])]
            mine(chain)
    finally:
        chain.request("evm_setAutomine", [True])
    return hashes


def wait_until_mined(chain: Chain, hashes: Sequence[str], timeout_s: float = 60.0) -> None:
    """Until every tx in `hashes` has a receipt: automine mines after answering, and
    on a loaded machine a tx can still be pending when its hash comes back."""
    deadline = time.monotonic() + timeout_s
    pending = list(hashes)
    while pending:
        receipts = []
        for start in range(0, len(pending), RECEIPT_BATCH):
            calls = [
                ("eth_getTransactionReceipt", [h]) for h in pending[start : start + RECEIPT_BATCH]
            ]
            receipts += chain.batch_request(calls)
        pending = [h for h, r in zip(pending, receipts, strict=True) if r is None]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(pending)} txs not mined after {timeout_s}s, e.g. {pending[0]}"
            )
        if pending:
            time.sleep(0.02)  # anvil mines on its own schedule; nothing to wait on instead


def snapshot(chain: Chain) -> str:
    return str(chain.request("evm_snapshot", []))


def revert(chain: Chain, snapshot_id: str) -> None:
    if not chain.request("evm_revert", [snapshot_id]):
        raise RuntimeError(f"evm_revert({snapshot_id}) refused")
