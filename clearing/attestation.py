"""Validator attestations: Ed25519 signatures over domain-separated bodies.

A validator signs ``compute_signing_bytes(domain, chain_id, body)``: the
msgpack of ``["clearnode", domain, chain_id, body]``, so a signature for one
purpose (a collateral credit) or one chain can never be replayed as another.
Quorum is strictly more than 2/3 of total power, by cross-multiplication.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clearing.errors import BadSignature, DuplicateSigner, QuorumNotReached, UnknownSigner
from clearing.genesis import Validator
from records.codec import pack
from records.declared import Declared, EdSignature, Items, PublicKey, declare_record

SIGNATURE_DOMAIN = "clearnode"


@declare_record
@dataclass(frozen=True, slots=True)
class Attestation(Declared):
    signer: PublicKey  # the validator's
    signature: EdSignature


Attestations = Annotated[tuple[Attestation, ...], Items()]


def compute_signing_bytes(domain: str, chain_id: int, body: list[Any]) -> bytes:
    """The exact bytes a validator signs for ``body`` under ``domain`` on ``chain_id``."""
    return pack([SIGNATURE_DOMAIN, domain, chain_id, body])


def sign_attestation(
    key: Ed25519PrivateKey, domain: str, chain_id: int, body: list[Any]
) -> Attestation:
    """Sign as a validator (used by nodes, the bridge and tests)."""
    signer = key.public_key().public_bytes_raw()
    return Attestation(signer, key.sign(compute_signing_bytes(domain, chain_id, body)))


def is_valid_signature(pubkey: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(pubkey).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def is_quorum(signed_power: int, total_power: int) -> bool:
    """Strictly more than 2/3: ``3 * signed > 2 * total``."""
    return 3 * signed_power > 2 * total_power


def get_signed_power(validators: dict[bytes, Validator], signers: Iterable[bytes]) -> int:
    """Voting power of ``signers``; raises on an unknown or repeated signer."""
    seen: set[bytes] = set()
    power = 0
    for signer in signers:
        validator = validators.get(signer)
        if validator is None:
            raise UnknownSigner(signer)
        if signer in seen:
            raise DuplicateSigner(signer)
        seen.add(signer)
        power += validator.power
    return power


def verify_quorum_attestations(
    validators: dict[bytes, Validator],
    total_power: int,
    attestations: Iterable[Attestation],
    message: bytes,
) -> int:
    """Check every attestation signs ``message`` and together they reach quorum.

    Returns the signed power; raises UnknownSigner, DuplicateSigner,
    BadSignature or QuorumNotReached.
    """
    attestations = tuple(attestations)
    power = get_signed_power(validators, (a.signer for a in attestations))
    if not is_quorum(power, total_power):
        raise QuorumNotReached(power, total_power)
    for a in attestations:
        if not is_valid_signature(a.signer, a.signature, message):
            raise BadSignature("attestation", a.signer)
    return power
