"""Expiry on a real anvil chain: the vault pays through the expiry second and refuses
after it, and a validator's expiry observation names the first final block past the
expiry, only for a nonce the vault never used."""

from __future__ import annotations

import pytest

from bridge.chain import Chain, ContractReverted
from bridge.devchain import mine
from bridge.expiries import find_first_block_after, get_block_stamp, get_final_stamp, observe_expiry
from bridge.vault import deposit_token, is_withdrawal_used, withdraw
from bridge.withdrawal import WithdrawalAuthorization
from clearing.state import WithdrawalRecord
from clearing.withdrawal_expiry import ExpiryObservation
from tests.bridge.conftest import VaultEnv, sign_all
from tests.bridge.test_vault_contract import MEMBER, RECIPIENT, make_auth

pytestmark = pytest.mark.chain


def set_next_block_time(chain: Chain, time_s: int) -> None:
    chain.request("evm_setNextBlockTimestamp", [time_s])


def advance(chain: Chain, seconds: int, blocks: int = 1) -> None:
    chain.request("evm_increaseTime", [seconds])
    mine(chain, blocks)


def relay_signed(env: VaultEnv, auth: WithdrawalAuthorization) -> None:
    withdraw(env.chain, auth, sign_all(auth.get_digest(), env.validators), env.dev)


def make_record(env: VaultEnv, nonce: int, expiry: int) -> WithdrawalRecord:
    return WithdrawalRecord(MEMBER, 0, env.chain.chain_id, env.token_address, 10, 10, RECIPIENT,
                            nonce, 1, expiry)  # fmt: skip


def test_the_vault_pays_through_the_expiry_second_and_refuses_after(vault_env: VaultEnv) -> None:
    env = vault_env
    deposit_token(env.chain, env.vault, env.token, 100, MEMBER, env.dev)
    expiry = env.get_time() + 50
    last_second = make_auth(env, 10, nonce=1, expiry=expiry)
    set_next_block_time(env.chain, expiry)
    relay_signed(env, last_second)
    assert is_withdrawal_used(env.chain, env.vault_address, MEMBER, 1)

    late = make_auth(env, 10, nonce=2, expiry=env.get_time())
    set_next_block_time(env.chain, late.expiry + 1)
    mine(env.chain)  # the head is one second past the expiry: the vault refuses from now on
    with pytest.raises(ContractReverted) as caught:
        relay_signed(env, late)
    assert caught.value.error == "Expired" and caught.value.args_[0] == late.expiry
    assert caught.value.args_[1] > late.expiry
    assert not is_withdrawal_used(env.chain, env.vault_address, MEMBER, 2)


def test_observation_names_the_first_final_block_past_the_expiry(vault_env: VaultEnv) -> None:
    env = vault_env
    deposit_token(env.chain, env.vault, env.token, 100, MEMBER, env.dev)
    expiry = env.get_time() + 100
    unpaid, paid = make_record(env, 11, expiry), make_record(env, 12, expiry)
    relay_signed(env, make_auth(env, 10, nonce=12, expiry=expiry))
    mine(env.chain, 3)
    head = get_final_stamp(env.chain, 0)
    assert head is not None
    assert observe_expiry(env.chain, env.vault_address, unpaid, head) is None  # may still pay

    advance(env.chain, 200, blocks=5)
    head = get_final_stamp(env.chain, 2)  # two blocks past the expiry are not final yet
    assert head is not None
    first = find_first_block_after(env.chain, expiry, head)
    assert first is not None and first[1] > expiry
    assert get_block_stamp(env.chain, first[0] - 1)[1] <= expiry
    observation = observe_expiry(env.chain, env.vault_address, unpaid, head)
    assert observation == ExpiryObservation(
        env.chain.chain_id, env.vault_address, MEMBER, 11, first[0], first[1]
    )
    assert observe_expiry(env.chain, env.vault_address, paid, head) is None  # the vault paid it

    mine(env.chain, 4)  # a later head: every validator, whenever it looks, names one block
    later = get_final_stamp(env.chain, 2)
    assert later is not None and later[0] > head[0]
    assert observe_expiry(env.chain, env.vault_address, unpaid, later) == observation
