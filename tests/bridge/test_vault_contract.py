"""CollateralVault on a real anvil chain: withdrawals, refusals, lock, rate limit, rotation."""

from __future__ import annotations

import pytest
from eth_utils import keccak, to_checksum_address

from bridge.chain import ContractReverted, TransactionFailed
from bridge.eip712 import SECP256K1_N
from bridge.rotation import compute_rotation_digest, compute_target_set
from bridge.vault import (
    NATIVE,
    compute_lock_digest,
    compute_rate_limit_digest,
    compute_unlock_digest,
    deposit_native,
    deposit_token,
    get_validator_set,
    is_in_sync,
    lock,
    lock_by_signature,
    rotate,
    set_rate_limit,
    unlock,
    withdraw,
)
from bridge.withdrawal import WithdrawalAuthorization
from tests.bridge.conftest import VaultEnv, make_set, make_validators, sign_all

pytestmark = pytest.mark.chain

RECIPIENT = keccak(text="recipient")[:20]
MEMBER = keccak(text="member")[:20]


def make_auth(
    env: VaultEnv, amount: int, nonce: int, **overrides: object
) -> WithdrawalAuthorization:
    fields: dict[str, object] = {
        "chain_id": env.chain.chain_id,
        "vault": env.vault_address,
        "epoch": 0,
        "member": MEMBER,
        "token": env.token_address,
        "amount": amount,
        "recipient": RECIPIENT,
        "nonce": nonce,
        "expiry": env.get_time() + 3600,
    }
    fields.update(overrides)
    return WithdrawalAuthorization(**fields)  # type: ignore[arg-type]


def fund(env: VaultEnv, amount: int) -> None:
    deposit_token(env.chain, env.vault, env.token, amount, MEMBER, env.dev)


def token_balance(env: VaultEnv, owner: bytes) -> int:
    return int(env.token.functions.balanceOf(to_checksum_address(owner)).call())


def assert_refused(
    error: str, env: VaultEnv, auth: WithdrawalAuthorization, sigs: list[bytes]
) -> None:
    with pytest.raises(ContractReverted) as caught:
        withdraw(env.chain, auth, sigs, env.dev)
    assert caught.value.error == error


def test_withdrawal_round_trip_pays_token_and_native(vault_env: VaultEnv) -> None:
    env = vault_env
    fund(env, 1_000)
    auth = make_auth(env, 600, nonce=1)
    withdraw(env.chain, auth, sign_all(auth.get_digest(), env.validators[:3]), env.dev)
    assert token_balance(env, RECIPIENT) == 600
    assert token_balance(env, env.vault_address) == 400

    deposit_native(env.chain, env.vault, 10**18, MEMBER, env.dev)
    before = env.chain.w3.eth.get_balance(to_checksum_address(RECIPIENT))
    native = make_auth(env, 10**17, nonce=2, token=NATIVE)
    withdraw(env.chain, native, sign_all(native.get_digest(), env.validators), env.dev)
    assert env.chain.w3.eth.get_balance(to_checksum_address(RECIPIENT)) == before + 10**17


def test_replayed_expired_forged_unsorted_underquorum_are_refused(vault_env: VaultEnv) -> None:
    env = vault_env
    fund(env, 1_000)
    auth = make_auth(env, 100, nonce=7)
    sigs = sign_all(auth.get_digest(), env.validators)
    withdraw(env.chain, auth, sigs, env.dev)
    assert_refused("AlreadyUsed", env, auth, sigs)
    # Same nonce under different fields: still used.
    again = make_auth(env, 50, nonce=7)
    assert_refused("AlreadyUsed", env, again, sign_all(again.get_digest(), env.validators))

    other_member = make_auth(env, 50, nonce=7, member=RECIPIENT)  # nonces are per member
    withdraw(env.chain, other_member, sign_all(other_member.get_digest(), env.validators), env.dev)

    expired = make_auth(env, 100, nonce=8, expiry=env.get_time() - 1)
    assert_refused("Expired", env, expired, sign_all(expired.get_digest(), env.validators))

    good = make_auth(env, 100, nonce=9)
    forged_amount = make_auth(env, 900, nonce=9, expiry=good.expiry)
    assert_refused("UnknownSigner", env, forged_amount, sign_all(good.get_digest(), env.validators))
    outsiders = make_validators(4, tag="x")
    assert_refused("UnknownSigner", env, good, sign_all(good.get_digest(), outsiders))

    ordered = sign_all(good.get_digest(), env.validators)
    assert_refused("SignersNotAscending", env, good, ordered[::-1])
    assert_refused("SignersNotAscending", env, good, [ordered[0], ordered[0], ordered[1]])
    assert_refused("NoQuorum", env, good, ordered[:2])  # 3*2 = 6, not > 2*4

    wrong_epoch = make_auth(env, 100, nonce=9, epoch=1)
    assert_refused(
        "WrongEpoch", env, wrong_epoch, sign_all(wrong_epoch.get_digest(), env.validators)
    )
    withdraw(env.chain, good, ordered[:3], env.dev)  # and the good one still pays
    assert token_balance(env, RECIPIENT) == 250


def test_malleable_and_zero_signatures_are_refused(vault_env: VaultEnv) -> None:
    env = vault_env
    fund(env, 100)
    auth = make_auth(env, 100, nonce=1)
    sigs = sign_all(auth.get_digest(), env.validators)
    r, s, v = sigs[0][:32], int.from_bytes(sigs[0][32:64], "big"), sigs[0][64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28
    assert_refused("HighS", env, auth, [high_s, *sigs[1:]])
    assert_refused("ZeroSigner", env, auth, [bytes(64) + b"\x1b", *sigs[1:]])
    assert_refused("BadV", env, auth, [sigs[0][:64] + b"\x05", *sigs[1:]])
    assert_refused("BadSignatureLength", env, auth, [sigs[0][:64], *sigs[1:]])


def test_lock_by_one_validator_unlock_by_quorum_only(vault_env: VaultEnv) -> None:
    env = vault_env
    fund(env, 100)
    with pytest.raises(ContractReverted) as caught:
        lock(env.chain, env.vault, env.dev)
    assert caught.value.error == "NotValidator"
    for v in env.validators:
        env.chain.w3.eth.send_transaction(
            {"from": env.dev.address, "to": v.account.address, "value": 10**18}
        )
    lock(env.chain, env.vault, env.validators[2].account)
    auth = make_auth(env, 10, nonce=1)
    assert_refused("IsLocked", env, auth, sign_all(auth.get_digest(), env.validators))
    with pytest.raises(ContractReverted) as caught:
        deposit_native(env.chain, env.vault, 1, bytes(20), env.dev)
    assert caught.value.error == "IsLocked"

    digest = compute_unlock_digest(env.chain.chain_id, env.vault_address, 0, lock_count=1)
    with pytest.raises(ContractReverted) as caught:
        unlock(env.chain, env.vault, sign_all(digest, env.validators[:2]), env.dev)
    assert caught.value.error == "NoQuorum"
    unlock(env.chain, env.vault, sign_all(digest, env.validators[1:]), env.dev)
    withdraw(env.chain, auth, sign_all(auth.get_digest(), env.validators), env.dev)

    lock(env.chain, env.vault, env.validators[0].account)
    with pytest.raises(ContractReverted) as caught:  # the old unlock cannot lift a new lock
        unlock(env.chain, env.vault, sign_all(digest, env.validators), env.dev)
    assert caught.value.error == "UnknownSigner"
    second = compute_unlock_digest(env.chain.chain_id, env.vault_address, 0, lock_count=2)
    unlock(env.chain, env.vault, sign_all(second, env.validators), env.dev)

    # A relayed lock: one validator's signature over the current lock count, usable once.
    lock_digest = compute_lock_digest(env.chain.chain_id, env.vault_address, 0, lock_count=2)
    with pytest.raises(ContractReverted) as caught:
        lock_by_signature(
            env.chain, env.vault, sign_all(lock_digest, make_validators(1, "x"))[0], env.dev
        )
    assert caught.value.error == "NotValidator"
    (one,) = sign_all(lock_digest, env.validators[3:])
    lock_by_signature(env.chain, env.vault, one, env.dev)
    assert env.vault.functions.locked().call()
    unlock(
        env.chain,
        env.vault,
        sign_all(
            compute_unlock_digest(env.chain.chain_id, env.vault_address, 0, 3), env.validators
        ),
        env.dev,
    )
    with pytest.raises(ContractReverted) as caught:  # spent by the lock it pulled
        lock_by_signature(env.chain, env.vault, one, env.dev)
    assert caught.value.error == "NotValidator"


def test_rate_limit_token_bucket(vault_env: VaultEnv) -> None:
    env = vault_env
    fund(env, 10_000)
    digest = compute_rate_limit_digest(
        env.chain.chain_id, env.vault_address, 0, env.token_address, 1_000, 1, nonce=0
    )
    set_rate_limit(
        env.chain,
        env.vault,
        env.token_address,
        1_000,
        1,
        sign_all(digest, env.validators),
        env.dev,
    )
    first = make_auth(env, 800, nonce=1)
    withdraw(env.chain, first, sign_all(first.get_digest(), env.validators), env.dev)
    second = make_auth(env, 500, nonce=2)
    sigs = sign_all(second.get_digest(), env.validators)
    with pytest.raises(ContractReverted) as caught:
        withdraw(env.chain, second, sigs, env.dev)
    assert caught.value.error == "RateLimited"
    assert caught.value.args_[1] == 500
    env.chain.request("evm_increaseTime", [400])  # refills 1 per second: >= 600 available
    env.chain.request("evm_mine", [])
    withdraw(env.chain, second, sigs, env.dev)
    assert token_balance(env, RECIPIENT) >= 1_300


def test_rotation_follows_consensus_set(vault_env: VaultEnv) -> None:
    env = vault_env
    fund(env, 1_000)
    current = get_validator_set(env.vault)
    assert current == make_set(env.validators)
    newcomers = make_validators(5, tag="n")
    consensus = [(v.address, 2) for v in newcomers]
    target = compute_target_set(current, consensus)
    assert target is not None and target.epoch == 1
    digest = compute_rotation_digest(env.chain.chain_id, env.vault_address, current, target)

    with pytest.raises(ContractReverted) as caught:
        rotate(env.chain, env.vault, target, sign_all(digest, env.validators[:2]), env.dev)
    assert caught.value.error == "NoQuorum"
    with pytest.raises(ContractReverted) as caught:  # the new set cannot appoint itself
        rotate(env.chain, env.vault, target, sign_all(digest, newcomers), env.dev)
    assert caught.value.error == "UnknownSigner"
    rotate(env.chain, env.vault, target, sign_all(digest, env.validators[:3]), env.dev)
    assert is_in_sync(env.vault, consensus)
    with pytest.raises(ContractReverted) as caught:
        rotate(env.chain, env.vault, target, sign_all(digest, env.validators), env.dev)
    assert caught.value.error == "EpochNotIncreasing"

    old = make_auth(env, 100, nonce=1)
    assert_refused("WrongEpoch", env, old, sign_all(old.get_digest(), env.validators))
    stale_signers = make_auth(env, 100, nonce=1, epoch=1)
    assert_refused(
        "UnknownSigner", env, stale_signers, sign_all(stale_signers.get_digest(), env.validators)
    )
    fresh = make_auth(env, 100, nonce=1, epoch=1)
    withdraw(env.chain, fresh, sign_all(fresh.get_digest(), newcomers[:4]), env.dev)
    assert token_balance(env, RECIPIENT) >= 100


def test_withdrawal_mined_a_later_second_than_its_estimate_is_paid(vault_env: VaultEnv) -> None:
    """The bucket's timestamp slot costs more gas to rewrite in a later second than in the
    second its gas was estimated in; the relayer's headroom must cover the difference."""
    env = vault_env
    fund(env, 10_000)
    digest = compute_rate_limit_digest(
        env.chain.chain_id, env.vault_address, 0, env.token_address, 1_000, 1, nonce=0
    )
    set_rate_limit(
        env.chain, env.vault, env.token_address, 1_000, 1, sign_all(digest, env.validators), env.dev
    )
    latest = env.chain.w3.eth.get_block("latest")["timestamp"]
    env.chain.request("evm_setNextBlockTimestamp", [latest + 5])  # the estimate ignores it
    auth = make_auth(env, 800, nonce=1)
    withdraw(env.chain, auth, sign_all(auth.get_digest(), env.validators), env.dev)
    assert token_balance(env, RECIPIENT) == 800


def test_withdrawal_expiring_before_it_is_mined_says_so_with_its_gas(vault_env: VaultEnv) -> None:
    env = vault_env
    fund(env, 1_000)
    latest = env.chain.w3.eth.get_block("latest")["timestamp"]
    auth = make_auth(env, 100, nonce=1, expiry=latest + 30)
    env.chain.request("evm_setNextBlockTimestamp", [latest + 60])  # the estimate ignores it
    with pytest.raises(TransactionFailed) as caught:
        withdraw(env.chain, auth, sign_all(auth.get_digest(), env.validators), env.dev)
    assert 0 < caught.value.gas_used < caught.value.gas_limit
    assert token_balance(env, RECIPIENT) == 0
