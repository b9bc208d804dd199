"""The SDK's vault calls over plain JSON-RPC, without web3 (clearnode/client/vault.py), on a
real anvil chain whose vault and token the bridge tests deploy (web3 checks the results):
a deposit approves only what it must, a refused one names the vault's error and sends
nothing, and a withdrawal is relayed by the node's relayer's rules."""

from __future__ import annotations

import pytest
from eth_utils.address import to_checksum_address

from bridge.vault import NATIVE
from bridge.withdrawal import WithdrawalAuthorization, collect_withdrawal_signatures, get_relay_json
from bridge.withdrawal_relay import relay_withdrawals
from clearnode.client import NotAContract, RpcWrongChain, TransactionReverted, Vault
from clearnode.client.vault import RpcVaults, connect
from tests.bridge.conftest import VaultEnv, make_set, sign_all

pytestmark = pytest.mark.chain

MEMBER = bytes(range(20))


def open_vault(env: VaultEnv) -> Vault:
    return Vault.at(env.chain.url, env.chain.chain_id, env.vault_address)


def get_nonce(env: VaultEnv) -> int:
    return env.chain.w3.eth.get_transaction_count(env.dev.address)


def get_balance(env: VaultEnv, owner: bytes) -> int:
    return int(env.token.functions.balanceOf(to_checksum_address(owner)).call())


def mint(env: VaultEnv, amount: int) -> None:
    env.chain.transact(env.token.functions.mint(env.dev.address, amount), env.dev)


def test_a_deposit_approves_what_the_allowance_lacks_then_pays_the_vault(
    vault_env: VaultEnv,
) -> None:
    env = vault_env
    mint(env, 1_000)
    with open_vault(env) as vault:
        before = get_nonce(env)
        receipt = vault.deposit(env.dev, env.token_address, 400, MEMBER, sub_account=2)
        assert get_nonce(env) == before + 2  # the approval, then the deposit
        assert receipt.block_number == env.chain.w3.eth.block_number and receipt.gas_used > 0
        assert get_balance(env, env.vault_address) == 400
        vault.approve(env.dev, env.token_address, 600)
        vault.deposit(env.dev, env.token_address, 600, MEMBER)
        assert get_nonce(env) == before + 4  # the allowance covered it: the deposit alone
        assert vault.allowance(bytes.fromhex(env.dev.address[2:]), env.token_address) == 0
        vault.deposit(env.dev, NATIVE, 10**15, MEMBER)
    assert get_balance(env, env.vault_address) == 1_000
    assert env.chain.w3.eth.get_balance(to_checksum_address(env.vault_address)) == 10**15
    deposited = env.vault.events.Deposited().get_logs(from_block=0)
    assert [(e.args.amount, e.args.subAccount) for e in deposited] == [
        (400, 2),
        (600, 0),
        (10**15, 0),
    ]


def test_a_refused_deposit_names_the_vaults_error_and_sends_nothing(vault_env: VaultEnv) -> None:
    env = vault_env
    with open_vault(env) as vault:
        before = get_nonce(env)
        with pytest.raises(TransactionReverted) as zero:
            vault.deposit(env.dev, env.token_address, 0, MEMBER)
        refused = zero.value
        assert (refused.error, refused.error_args, refused.tx_hash) == ("ZeroAmount", (), None)
        assert get_nonce(env) == before
        with pytest.raises(TransactionReverted) as unfunded:  # approved, but nothing to take
            vault.deposit(env.dev, env.token_address, 5, MEMBER)
        assert unfunded.value.error == "TokenCallFailed"
        assert unfunded.value.error_args == ("0x" + env.token_address.hex(),)
        assert "nothing sent" in str(unfunded.value)
        assert get_nonce(env) == before + 1
    with Vault.at(env.chain.url, env.chain.chain_id, b"\x01" * 20) as nowhere:
        with pytest.raises(NotAContract):
            nowhere.deposit(env.dev, NATIVE, 1, MEMBER)
    assert get_nonce(env) == before + 1
    with pytest.raises(RpcWrongChain):
        Vault.at(env.chain.url, env.chain.chain_id + 1, env.vault_address)


def test_a_withdrawal_is_relayed_once_with_a_quorum_of_the_vaults_set(vault_env: VaultEnv) -> None:
    env = vault_env
    mint(env, 1_000)
    recipient = b"\x77" * 20
    with open_vault(env) as vault:
        vault.deposit(env.dev, env.token_address, 1_000, MEMBER)
        assert vault.validator_set() == make_set(env.validators)
        auths = [
            WithdrawalAuthorization(env.chain.chain_id, env.vault_address, 0, MEMBER,
                                    env.token_address, 300, recipient, nonce, env.get_time() + 600)
            for nonce in (1, 2)
        ]  # fmt: skip
        signers = (env.validators, env.validators[:2])  # 4 of 4, 2 of 4
        bodies = [
            get_relay_json(auth, collect_withdrawal_signatures(
                auth, make_set(env.validators), sign_all(auth.get_digest(), who)))
            for auth, who in zip(auths, signers, strict=True)
        ]  # fmt: skip
        bodies[1]["complete"] = True  # a node that says so is not believed: the vault's set counts
        vaults = RpcVaults(connect(env.chain.url, env.chain.chain_id))
        paid, short = relay_withdrawals(vaults, env.dev, bodies)
        assert (paid.result, short.result) == ("paid", "no quorum of epoch 0: 2 of 4")
        assert paid.tx_hash.startswith("0x") and len(paid.tx_hash) == 66
        assert vault.is_withdrawal_paid(MEMBER, 1) and not vault.is_withdrawal_paid(MEMBER, 2)
        (again,) = relay_withdrawals(vaults, env.dev, bodies[:1])
        assert again.result == "already paid"
        with pytest.raises(TransactionReverted) as twice:  # straight to the vault: refused
            vault.withdraw(auths[0], sign_all(auths[0].get_digest(), env.validators), env.dev)
        assert twice.value.error == "AlreadyUsed"
    assert get_balance(env, recipient) == 300
