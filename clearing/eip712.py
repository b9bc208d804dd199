"""Member requests signed as EIP-712 typed data.

Domain: name "clearnode", version "1", chainId = the clearnode chain id, so a
request signed for one network is invalid on another. The signer recovered
from the 65-byte signature must be the member the request names.

The digest is computed here (keccak over the encoded struct; the types are the
atomic ones requests and queries use: address, bool, string, uintN, intN) and
the signer recovered with eth-keys, as eth-account would: its generic typed-data
encoder builds a request's digest several times slower, and clearing (hence the
verifier) need not load it. Tests hold digests, signatures and recoveries equal
to eth-account's (tests/clearing/test_eip712.py).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

from eth_keys.main import lazy_key_api as keys
from eth_utils.crypto import keccak

from clearing.errors import BadSignature

DOMAIN_NAME = "clearnode"
DOMAIN_VERSION = "1"
DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
]
EIP712_INTEGER = re.compile(r"(u?)int(\d+)")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class SignableMessage(NamedTuple):
    """EIP-191 version 0x01 data: the domain separator and the message's struct hash
    (the fields of eth-account's type of the same name, so its ``sign_message`` signs
    one too)."""

    version: bytes
    header: bytes
    body: bytes


def get_integer_range(eip712_type: str) -> tuple[int, int] | None:
    """The values EIP-712 ``uintN``/``intN`` carries; None for any other type."""
    match = EIP712_INTEGER.fullmatch(eip712_type)
    if match is None:
        return None
    bits = int(match[2])
    if bits % 8 or not 8 <= bits <= 256:
        return None
    return (0, 2**bits - 1) if match[1] else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def encode_value(eip712_type: str, value: Any) -> bytes:
    """One field's 32 bytes in ``encodeData``; ``ValueError`` for a value its type cannot
    carry or a type no request uses."""
    if eip712_type == "address" and isinstance(value, str) and ADDRESS.fullmatch(value):
        return bytes(12) + bytes.fromhex(value[2:])
    if eip712_type == "bool" and isinstance(value, bool):
        return int(value).to_bytes(32, "big")
    if eip712_type == "string" and isinstance(value, str):
        return keccak(value.encode("utf-8"))
    carried = get_integer_range(eip712_type)
    if carried is not None and type(value) is int and carried[0] <= value <= carried[1]:
        return (value % 2**256).to_bytes(32, "big")  # intN: two's complement
    raise ValueError(f"{value!r:.80} is not an EIP-712 {eip712_type}")


def hash_struct(primary_type: str, fields: list[dict[str, str]], message: dict[str, Any]) -> bytes:
    signature = f"{primary_type}({','.join(f['type'] + ' ' + f['name'] for f in fields)})"
    encoded = [encode_value(f["type"], message[f["name"]]) for f in fields]
    return keccak(keccak(signature.encode()) + b"".join(encoded))


@lru_cache(maxsize=16)
def compute_domain_separator(chain_id: int) -> bytes:
    domain = {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id}
    return hash_struct("EIP712Domain", DOMAIN_TYPE, domain)


def compute_signable(
    chain_id: int, primary_type: str, fields: list[dict[str, str]], message: dict[str, Any]
) -> SignableMessage:
    return SignableMessage(
        b"\x01", compute_domain_separator(chain_id), hash_struct(primary_type, fields, message)
    )


def get_digest(signable: SignableMessage) -> bytes:
    """What the member's key signs: ``keccak(0x19 || 0x01 || domain || struct)``."""
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_typed(private_key: bytes, signable: SignableMessage) -> bytes:
    """Sign as a member (wallets, tests, the devnet demo): r || s || v, v in {27, 28}."""
    signed = keys.PrivateKey(private_key).sign_msg_hash(get_digest(signable))
    return signed.to_bytes()[:64] + bytes([signed.v + 27])


def get_standard_v(v: int) -> int | None:
    """The recovery bit eth-account reads from a signature's last byte: 0/1, 27/28, or
    an EIP-155 ``35 + 2 * chain + bit``; None for any other."""
    if v in (0, 1):
        return v
    if v in (27, 28):
        return v - 27
    return (v - 35) % 2 if v >= 35 else None


def describe_domain(chain_id: int) -> str:
    """The EIP-712 domain a member must sign under, as a client developer reads it."""
    return f'{{name: "{DOMAIN_NAME}", version: "{DOMAIN_VERSION}", chainId: {chain_id}}}'


def verify_member_signature(
    member: bytes, signable: SignableMessage, signature: bytes, what: str, chain_id: int
) -> None:
    """Raise ``BadSignature`` unless ``signature`` recovers to ``member``; the error names
    the domain expected and the address the signature does recover to (if any), the two
    things a client that signs wrongly gets wrong."""
    domain = describe_domain(chain_id)
    v = get_standard_v(signature[-1]) if len(signature) == 65 else None
    if v is None:
        raise BadSignature(what, member, b"", domain)
    try:
        standard = keys.Signature(signature_bytes=signature[:64] + bytes([v]))
        signer = standard.recover_public_key_from_msg_hash(get_digest(signable))
    except Exception:  # eth-keys raises several unrelated types for malformed signatures
        raise BadSignature(what, member, b"", domain) from None
    recovered = signer.to_canonical_address()
    if recovered != member:
        raise BadSignature(what, member, recovered, domain)
