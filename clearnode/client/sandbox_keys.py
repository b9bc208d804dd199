"""The devnet's public test keys: each derived from a public name, so anyone can sign
with them; never for value. `Member.from_sandbox` and `Venue.from_sandbox` sign with
them, and so do the devnet's validators, venue and members, its in-process ledger
(devnet/sandbox.py), the tests and the benchmarks.

Keys derive from ``sha256(b"clearnode-devnet/" + name)``. Validator names match
``configs/genesis.example.json``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account

SEED_PREFIX = b"clearnode-devnet/"


def derive_seed(name: str) -> bytes:
    return hashlib.sha256(SEED_PREFIX + name.encode()).digest()


def derive_ed25519_key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(derive_seed(name))


@dataclass(frozen=True, slots=True)
class MemberKey:
    private_key: bytes
    address: bytes


def derive_member_key(name: str) -> MemberKey:
    seed = derive_seed("member-" + name)
    return MemberKey(seed, bytes.fromhex(Account.from_key(seed).address[2:]))
