"""Typed helpers around one deployed CollateralVault: deploy, deposit, read, withdraw, rotate,
lock, limits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.types import BlockIdentifier

from bridge.chain import Chain
from bridge.eip712 import (
    compute_digest,
    compute_lock_struct_hash,
    compute_rate_limit_struct_hash,
    compute_unlock_struct_hash,
)
from bridge.rotation import compute_target_set
from bridge.validators import EvmValidatorSet
from bridge.withdrawal import WithdrawalAuthorization, WithdrawalError
from clearing.assets import NATIVE as NATIVE  # the vault holds the native coin as its balance


def deploy_vault(chain: Chain, validator_set: EvmValidatorSet, sender: LocalAccount) -> Contract:
    """A vault at epoch 0 trusting `validator_set` (a vault always starts at epoch 0)."""
    addresses = [to_checksum_address(a) for a in validator_set.addresses]
    return chain.deploy("CollateralVault", [addresses, validator_set.powers], sender)


def deploy_test_token(
    chain: Chain, sender: LocalAccount, symbol: str = "TST", decimals: int = 18
) -> Contract:
    return chain.deploy("TestToken", [f"Test {symbol}", symbol, decimals], sender)


def deposit_token(
    chain: Chain,
    vault: Contract,
    token: Contract,
    amount: int,
    member: bytes,
    sender: LocalAccount,
    sub_account: int = 0,
) -> dict[str, Any]:
    """Mint `amount` of a test token to `sender`, approve the vault, deposit it for `member`."""
    chain.transact(token.functions.mint(sender.address, amount), sender)
    return deposit_held_token(chain, vault, token, amount, member, sender, sub_account)


def deposit_held_token(
    chain: Chain,
    vault: Contract,
    token: Contract,
    amount: int,
    member: bytes,
    sender: LocalAccount,
    sub_account: int = 0,
) -> dict[str, Any]:
    """Approve the vault for `amount` of `sender`'s tokens and deposit them for `member`."""
    chain.transact(token.functions.approve(vault.address, amount), sender)
    return chain.transact(
        vault.functions.depositToken(
            token.address, amount, to_checksum_address(member), sub_account
        ),
        sender,
    )


def deposit_native(
    chain: Chain,
    vault: Contract,
    amount: int,
    member: bytes,
    sender: LocalAccount,
    sub_account: int = 0,
) -> dict[str, Any]:
    call = vault.functions.depositNative(to_checksum_address(member), sub_account)
    return chain.transact(call, sender, amount)


def get_validator_set(vault: Contract, block: BlockIdentifier = "latest") -> EvmValidatorSet:
    """The validator set the vault trusts as of `block`."""
    addresses, powers = vault.functions.getValidators().call(block_identifier=block)
    members = tuple((bytes.fromhex(a[2:]), int(p)) for a, p in zip(addresses, powers, strict=True))
    return EvmValidatorSet(int(vault.functions.epoch().call(block_identifier=block)), members)


def is_withdrawal_used(
    chain: Chain, vault: bytes, member: bytes, nonce: int, block: BlockIdentifier = "latest"
) -> bool:
    """Whether the vault has paid `member`'s withdrawal `nonce` as of `block`."""
    contract = chain.contract("CollateralVault", to_checksum_address(vault))
    call = contract.functions.withdrawalUsed(to_checksum_address(member), nonce)
    return bool(call.call(block_identifier=block))


def is_in_sync(vault: Contract, consensus_members: Iterable[tuple[bytes, int]]) -> bool:
    current = get_validator_set(vault)
    return compute_target_set(current, consensus_members) is None


def get_withdraw_call(
    vault: Contract, auth: WithdrawalAuthorization, signatures: list[bytes]
) -> Any:
    return vault.functions.withdraw(
        auth.epoch,
        to_checksum_address(auth.member),
        to_checksum_address(auth.token),
        auth.amount,
        to_checksum_address(auth.recipient),
        auth.nonce,
        auth.expiry,
        signatures,
    )


def withdraw(
    chain: Chain, auth: WithdrawalAuthorization, signatures: list[bytes], sender: LocalAccount
) -> dict[str, Any]:
    """Submit the authorisation with `signatures` (already ordered) to the vault."""
    if chain.chain_id != auth.chain_id:
        raise WithdrawalError(
            f"authorisation for chain {auth.chain_id}, relaying on {chain.chain_id}"
        )
    vault = chain.contract("CollateralVault", to_checksum_address(auth.vault))
    return chain.transact(get_withdraw_call(vault, auth, signatures), sender)


def rotate(
    chain: Chain,
    vault: Contract,
    target: EvmValidatorSet,
    signatures: list[bytes],
    sender: LocalAccount,
) -> dict[str, Any]:
    """Submit a rotation; `signatures` from the current set, ordered by signer."""
    call = vault.functions.rotate(
        target.epoch,
        [to_checksum_address(a) for a in target.addresses],
        target.powers,
        signatures,
    )
    return chain.transact(call, sender)


def get_vault_address(vault: Contract) -> bytes:
    return bytes.fromhex(vault.address[2:])


BALANCE_OF = bytes.fromhex("70a08231")
"""ERC-20 `balanceOf(address)` selector."""


def get_vault_balances(
    chain: Chain, vault: bytes, tokens: Sequence[bytes], block: int | None = None
) -> dict[bytes, int]:
    """What the vault holds of each token (the native coin for `NATIVE`) at `block` (the
    latest if None), in one round trip.

    These are the figures anyone can read on chain; the solvency report's
    collateral sums must not exceed them (`clearnode verify --rpc`).
    """
    holder = "0x" + vault.hex()
    at = "latest" if block is None else hex(block)
    calls = [_balance_call(holder, vault, token, at) for token in tokens]
    return {
        token: int(raw, 16) if raw not in ("0x", "") else 0
        for token, raw in zip(tokens, chain.batch_request(calls), strict=True)
    }


def _balance_call(holder: str, vault: bytes, token: bytes, at: str) -> tuple[str, list[Any]]:
    if token == NATIVE:
        return "eth_getBalance", [holder, at]
    data = "0x" + (BALANCE_OF + bytes(12) + vault).hex()
    return "eth_call", [{"to": "0x" + token.hex(), "data": data}, at]


def compute_unlock_digest(chain_id: int, vault: bytes, epoch: int, lock_count: int) -> bytes:
    return compute_digest(chain_id, vault, compute_unlock_struct_hash(epoch, lock_count))


def compute_rate_limit_digest(
    chain_id: int, vault: bytes, epoch: int, token: bytes, capacity: int, refill: int, nonce: int
) -> bytes:
    struct_hash = compute_rate_limit_struct_hash(epoch, token, capacity, refill, nonce)
    return compute_digest(chain_id, vault, struct_hash)


def compute_lock_digest(chain_id: int, vault: bytes, epoch: int, lock_count: int) -> bytes:
    return compute_digest(chain_id, vault, compute_lock_struct_hash(epoch, lock_count))


def lock(chain: Chain, vault: Contract, validator: LocalAccount) -> dict[str, Any]:
    return chain.transact(vault.functions.lock(), validator)


def lock_by_signature(
    chain: Chain, vault: Contract, signature: bytes, sender: LocalAccount
) -> dict[str, Any]:
    """Pull the lock with one validator's signature (see compute_lock_digest); anyone relays."""
    return chain.transact(vault.functions.lockBySignature(signature), sender)


def unlock(
    chain: Chain, vault: Contract, signatures: Sequence[bytes], sender: LocalAccount
) -> dict[str, Any]:
    return chain.transact(vault.functions.unlock(list(signatures)), sender)


def set_rate_limit(
    chain: Chain,
    vault: Contract,
    token: bytes,
    capacity: int,
    refill_per_second: int,
    signatures: Sequence[bytes],
    sender: LocalAccount,
) -> dict[str, Any]:
    call = vault.functions.setRateLimit(
        to_checksum_address(token), capacity, refill_per_second, list(signatures)
    )
    return chain.transact(call, sender)
