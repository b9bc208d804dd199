"""Reading what a vault holds, token and native coin, in one batched round trip."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from bridge.vault import NATIVE, deposit_native, deposit_token, get_vault_balances
from tests.bridge.conftest import VaultEnv

pytestmark = pytest.mark.chain

MEMBER = keccak(text="balances-member")[:20]


def test_balances_follow_deposits(vault_env: VaultEnv) -> None:
    env = vault_env
    tokens = [env.token_address, NATIVE]
    before = get_vault_balances(env.chain, env.vault_address, tokens)
    deposit_token(env.chain, env.vault, env.token, 1_234, MEMBER, env.dev)
    deposit_native(env.chain, env.vault, 5_678, MEMBER, env.dev)
    after = get_vault_balances(env.chain, env.vault_address, tokens)
    assert after[env.token_address] - before[env.token_address] == 1_234
    assert after[NATIVE] - before[NATIVE] == 5_678


def test_a_contract_without_code_reads_zero(vault_env: VaultEnv) -> None:
    nowhere = keccak(text="no contract here")[:20]
    assert get_vault_balances(vault_env.chain, vault_env.vault_address, [nowhere]) == {nowhere: 0}
