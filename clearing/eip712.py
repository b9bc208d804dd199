"""Member requests signed as EIP-712 typed data (eth-account).

Domain: name "clearnode", version "1", chainId = the clearnode chain id, so a
request signed for one network is invalid on another. The signer recovered
from the 65-byte signature must be the member the request names.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data

from clearing.errors import BadSignature

DOMAIN_NAME = "clearnode"
DOMAIN_VERSION = "1"
DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
]


def compute_signable(
    chain_id: int, primary_type: str, fields: list[dict[str, str]], message: dict[str, Any]
) -> SignableMessage:
    return encode_typed_data(
        full_message={
            "types": {"EIP712Domain": DOMAIN_TYPE, primary_type: fields},
            "primaryType": primary_type,
            "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id},
            "message": message,
        }
    )


def sign_typed(private_key: bytes, signable: SignableMessage) -> bytes:
    """Sign as a member (wallets, tests, the devnet demo)."""
    return bytes(Account.sign_message(signable, private_key).signature)


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
    try:
        recovered = Account.recover_message(signable, signature=signature)
    except Exception:  # eth-keys raises several unrelated types for malformed signatures
        raise BadSignature(what, member, b"", domain) from None
    signer = bytes.fromhex(recovered[2:])
    if signer != member:
        raise BadSignature(what, member, signer, domain)
