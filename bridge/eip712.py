"""EIP-712 digests the vault checks, and secp256k1 signing/recovery over them.

Mirrors CollateralVault.sol exactly: domain (name "ClearnodeVault", version "1",
chain id, vault address), then one struct type per authorised action. Addresses are
20 raw bytes; signatures are 65 bytes r || s || v with v in {27, 28} and low s.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi.abi import encode
from eth_keys.exceptions import BadSignature
from eth_keys.main import lazy_key_api as keys
from eth_utils.crypto import keccak

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_ORDER = SECP256K1_N // 2

DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
WITHDRAWAL_TYPEHASH = keccak(
    text="Withdrawal(uint64 epoch,address member,address token,uint256 amount,"
    "address recipient,uint256 nonce,uint64 expiry)"
)
ROTATION_TYPEHASH = keccak(
    text="Rotation(uint64 epoch,uint64 newEpoch,address[] validators,uint256[] powers)"
)
UNLOCK_TYPEHASH = keccak(text="Unlock(uint64 epoch,uint256 lockCount)")
LOCK_TYPEHASH = keccak(text="Lock(uint64 epoch,uint256 lockCount)")
RATE_LIMIT_TYPEHASH = keccak(
    text="RateLimit(uint64 epoch,address token,uint256 capacity,uint256 refillPerSecond,"
    "uint256 nonce)"
)


class SignatureError(Exception):
    """A signature is malformed, malleable (high s) or recovers to no address."""


def compute_domain_separator(chain_id: int, vault: bytes) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [DOMAIN_TYPEHASH, keccak(text="ClearnodeVault"), keccak(text="1"), chain_id, vault],
        )
    )


def compute_digest(chain_id: int, vault: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + compute_domain_separator(chain_id, vault) + struct_hash)


def compute_withdrawal_struct_hash(
    epoch: int, member: bytes, token: bytes, amount: int, recipient: bytes, nonce: int, expiry: int
) -> bytes:
    return keccak(
        encode(
            ["bytes32", "uint64", "address", "address", "uint256", "address", "uint256", "uint64"],
            [WITHDRAWAL_TYPEHASH, epoch, member, token, amount, recipient, nonce, expiry],
        )
    )


def compute_rotation_struct_hash(
    epoch: int, new_epoch: int, validators: Sequence[bytes], powers: Sequence[int]
) -> bytes:
    validators_hash = keccak(b"".join(bytes(12) + v for v in validators))
    powers_hash = keccak(b"".join(p.to_bytes(32, "big") for p in powers))
    return keccak(
        encode(
            ["bytes32", "uint64", "uint64", "bytes32", "bytes32"],
            [ROTATION_TYPEHASH, epoch, new_epoch, validators_hash, powers_hash],
        )
    )


def compute_unlock_struct_hash(epoch: int, lock_count: int) -> bytes:
    return keccak(encode(["bytes32", "uint64", "uint256"], [UNLOCK_TYPEHASH, epoch, lock_count]))


def compute_lock_struct_hash(epoch: int, lock_count: int) -> bytes:
    return keccak(encode(["bytes32", "uint64", "uint256"], [LOCK_TYPEHASH, epoch, lock_count]))


def compute_rate_limit_struct_hash(
    epoch: int, token: bytes, capacity: int, refill_per_second: int, nonce: int
) -> bytes:
    return keccak(
        encode(
            ["bytes32", "uint64", "address", "uint256", "uint256", "uint256"],
            [RATE_LIMIT_TYPEHASH, epoch, token, capacity, refill_per_second, nonce],
        )
    )


def sign_digest(digest: bytes, private_key: bytes) -> bytes:
    """65-byte r || s || v signature with low s (the only form the vault accepts)."""
    signature = keys.PrivateKey(private_key).sign_msg_hash(digest)
    r, s, v = int(signature.r), int(signature.s), int(signature.v)
    if s > HALF_ORDER:  # normalise to the canonical twin
        s, v = SECP256K1_N - s, v ^ 1
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])


def recover_signer(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address that signed `digest`, with the vault's rules on form."""
    if len(signature) != 65:
        raise SignatureError(f"signature is {len(signature)} bytes, want 65")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > HALF_ORDER:
        raise SignatureError(f"high s {s:#x}")
    if v not in (27, 28):
        raise SignatureError(f"v is {v}, want 27 or 28")
    try:
        public = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValueError) as exc:
        raise SignatureError(f"does not recover: {exc}") from None
    address: bytes = public.to_canonical_address()
    return address


def get_address(private_key: bytes) -> bytes:
    address: bytes = keys.PrivateKey(private_key).public_key.to_canonical_address()
    return address
