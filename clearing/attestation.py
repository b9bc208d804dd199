"""Validator attestations: Ed25519 signatures over domain-separated bodies.

A validator signs ``compute_signing_bytes(domain, chain_id, body)``: the
msgpack of ``["clearnode", domain, chain_id, body]``, so a signature for one
purpose (a collateral credit) or one chain can never be replayed as another.
Quorum is strictly more than 2/3 of total power, by cross-multiplication.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clearing.errors import BadSignature, DuplicateSigner, QuorumNotReached, UnknownSigner
from clearing.genesis import Validator
from lightclient.codec import expect_bytes, expect_list, pack

SIGNATURE_DOMAIN = "clearnode"


@dataclass(frozen=True, slots=True)
class Attestation:
    signer: bytes  # validator Ed25519 public key, 32 bytes
    signature: bytes  # 64 bytes

    def to_fields(self) -> list[object]:
        return [self.signer, self.signature]

    @classmethod
    def from_fields(cls, obj: object, what: str) -> Attestation:
        signer, signature = expect_list(obj, what, 2)
        return cls(
            expect_bytes(signer, f"{what}.signer", 32),
            expect_bytes(signature, f"{what}.signature", 64),
        )


def decode_attestations(obj: object) -> tuple[Attestation, ...]:
    items = expect_list(obj, "attestations")
    return tuple(Attestation.from_fields(a, f"attestations[{n}]") for n, a in enumerate(items))


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
