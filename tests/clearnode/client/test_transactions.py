"""Transactions over plain JSON-RPC (clearnode/client/transactions.py) on a real anvil, its
mining stopped where a test needs a transaction to wait: one mined with status 0 names
the error its call replays to, one the node drops or whose nonce another takes is
dropped, one still unmined is pending and can be waited for again, and the fees are
EIP-1559's or, on a chain without a base fee, the legacy gas price."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from eth_utils.address import to_checksum_address

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.withdrawal import WithdrawalAuthorization
from clearnode.client import JsonRpc, TransactionDropped, TransactionPending, TransactionReverted
from clearnode.client.transactions import send_transaction, submit_transaction, wait_for_receipt
from clearnode.client.vault import Vault, account_from_key, encode_abi_call, get_vault_abi
from tests.bridge.conftest import VaultEnv, sign_all

pytestmark = pytest.mark.chain

DEV = account_from_key(DEV_PRIVATE_KEY)
RIVAL = account_from_key("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
"""anvil's second funded dev account."""
GWEI = 10**9
OTHER = b"\x42" * 20


@contextmanager
def mining_stopped(rpc: JsonRpc) -> Iterator[None]:
    """Transactions stay in anvil's pool until `evm_mine` (or the block leaves)."""
    rpc.request("evm_setAutomine", [False])
    try:
        yield
    finally:
        rpc.request("evm_setAutomine", [True])


def open_rpc(env: VaultEnv) -> JsonRpc:
    return JsonRpc.connect(env.chain.url, env.chain.chain_id)


def send_with_a_higher_tip(rpc: JsonRpc, to: bytes, data: bytes) -> str:
    """A rival relayer's transaction, which anvil (ordering by fee) mines first."""
    nonce = rpc.quantity("eth_getTransactionCount", [RIVAL.address, "pending"])
    fees = {"gas": 500_000, "maxFeePerGas": 100 * GWEI, "maxPriorityFeePerGas": 50 * GWEI}
    tx = {"chainId": rpc.chain_id, "nonce": nonce, "to": to_checksum_address(to), "value": 0,
          "data": data, **fees}  # fmt: skip
    signed = RIVAL.sign_transaction(tx)
    tx_hash: str = rpc.request("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
    return tx_hash


def test_a_transaction_mined_with_status_0_names_the_error_it_replays_to(
    vault_env: VaultEnv,
) -> None:
    env = vault_env
    env.chain.transact(env.token.functions.mint(env.dev.address, 10), env.dev)
    with open_rpc(env) as rpc:
        Vault(rpc, env.vault_address).deposit(DEV, env.token_address, 10, OTHER)
        auth = WithdrawalAuthorization(
            env.chain.chain_id,
            env.vault_address,
            0,
            OTHER,
            env.token_address,
            4,
            OTHER,
            1,
            env.get_time() + 600,
        )
        signatures = sign_all(auth.get_digest(), env.validators)
        data = encode_abi_call(get_vault_abi(), "withdraw", auth.epoch, auth.member,
                               auth.token, auth.amount, auth.recipient, auth.nonce,
                               auth.expiry, signatures)  # fmt: skip
        with mining_stopped(rpc):  # ours estimated, then a rival pays the same withdrawal first
            ours = submit_transaction(rpc, DEV, env.vault_address, data, 0, get_vault_abi())
            send_with_a_higher_tip(rpc, env.vault_address, data)
            rpc.request("evm_mine", [])
        with pytest.raises(TransactionReverted) as refused:
            wait_for_receipt(rpc, ours, get_vault_abi())
        block = rpc.block_number()
    reverted = refused.value
    assert (reverted.error, reverted.error_args) == ("AlreadyUsed", ("0x" + OTHER.hex(), 1))
    assert (reverted.tx_hash, reverted.nonce, reverted.block) == (ours.tx_hash, ours.nonce, block)
    assert 0 < reverted.gas_used < reverted.gas_limit == ours.gas
    assert f"mined in block {block} with status 0" in str(reverted)


def test_a_dropped_or_replaced_transaction_is_dropped(vault_env: VaultEnv) -> None:
    with open_rpc(vault_env) as rpc, mining_stopped(rpc):
        gone = submit_transaction(rpc, DEV, OTHER, b"", 1)
        rpc.request("anvil_dropTransaction", [gone.tx_hash])
        with pytest.raises(TransactionDropped) as forgotten:
            wait_for_receipt(rpc, gone)
        assert "the node no longer has it" in str(forgotten.value)
        assert forgotten.value.mined_nonce == gone.nonce
        replaced = submit_transaction(rpc, DEV, OTHER, b"", 2)
        rpc.request("anvil_dropTransaction", [replaced.tx_hash])
        other = submit_transaction(rpc, DEV, OTHER, b"", 3)  # the same nonce, now free
        rpc.request("evm_mine", [])
        assert other.nonce == replaced.nonce
        with pytest.raises(TransactionDropped) as taken:
            wait_for_receipt(rpc, replaced)
        assert f"nonce {replaced.nonce} was used by another transaction" in str(taken.value)
        assert taken.value.mined_nonce == replaced.nonce + 1


def test_a_transaction_not_mined_in_time_is_pending_and_can_be_waited_for_again(
    vault_env: VaultEnv,
) -> None:
    with open_rpc(vault_env) as rpc:
        with mining_stopped(rpc):
            waiting = submit_transaction(rpc, DEV, OTHER, b"", 1)
            with pytest.raises(TransactionPending) as pending:
                wait_for_receipt(rpc, waiting, timeout_s=0.2)
        assert (pending.value.tx_hash, pending.value.waited_s) == (waiting.tx_hash, 0.2)
        rpc.request("evm_mine", [])
        assert wait_for_receipt(rpc, waiting).tx_hash == waiting.tx_hash


def test_fees_are_eip_1559_where_blocks_have_a_base_fee_else_the_gas_price(
    vault_env: VaultEnv,
) -> None:
    with AnvilNode(chain_id=31_002, extra_args=("--hardfork", "berlin")) as berlin:
        chains = [(vault_env.chain.url, vault_env.chain.chain_id), (berlin.url, 31_002)]
        kinds = []
        for url, chain_id in chains:
            with JsonRpc.connect(url, chain_id) as rpc:
                receipt = send_transaction(rpc, DEV, OTHER, b"", 5)
                sent = rpc.request("eth_getTransactionByHash", [receipt.tx_hash])
                kinds.append((sent["type"], "maxFeePerGas" in sent, int(sent["chainId"], 16)))
    assert kinds == [("0x2", True, vault_env.chain.chain_id), ("0x0", False, 31_002)]
