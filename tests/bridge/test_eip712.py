"""Our EIP-712 digests equal eth-account's reference encoding; signatures are low-s."""

from __future__ import annotations

from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from bridge.eip712 import HALF_ORDER, get_address, recover_signer, sign_digest
from bridge.withdrawal import WithdrawalAuthorization

DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
WITHDRAWAL_FIELDS = [
    {"name": "epoch", "type": "uint64"},
    {"name": "member", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "amount", "type": "uint256"},
    {"name": "recipient", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "expiry", "type": "uint64"},
]
addresses = st.binary(min_size=20, max_size=20)
u64 = st.integers(0, 2**64 - 1)
u256 = st.integers(0, 2**256 - 1)


@given(st.integers(1, 2**64), addresses, u64, addresses, addresses, u256, addresses, u256, u64)
def test_withdrawal_digest_matches_eth_account(
    chain_id: int,
    vault: bytes,
    epoch: int,
    member: bytes,
    token: bytes,
    amount: int,
    recipient: bytes,
    nonce: int,
    expiry: int,
) -> None:
    auth = WithdrawalAuthorization(
        chain_id, vault, epoch, member, token, amount, recipient, nonce, expiry
    )
    message = {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Withdrawal": WITHDRAWAL_FIELDS},
        "primaryType": "Withdrawal",
        "domain": {
            "name": "ClearnodeVault",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(vault),
        },
        "message": {
            "epoch": epoch,
            "member": to_checksum_address(member),
            "token": to_checksum_address(token),
            "amount": amount,
            "recipient": to_checksum_address(recipient),
            "nonce": nonce,
            "expiry": expiry,
        },
    }
    signable = encode_typed_data(full_message=message)
    assert auth.get_digest() == keccak(b"\x19" + signable.version + signable.header + signable.body)


@given(st.binary(min_size=32, max_size=32), st.integers(1, 2**200))
def test_signatures_are_low_s_and_recover(digest: bytes, key_int: int) -> None:
    key = key_int.to_bytes(32, "big")
    signature = sign_digest(digest, key)
    assert int.from_bytes(signature[32:64], "big") <= HALF_ORDER
    assert recover_signer(digest, signature) == get_address(key)
