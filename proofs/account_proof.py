"""Check a member's account proof file (the answer of POST /v1/accounts/proof) against a
state root the member trusts: the committed root at that height, read from a block
header of the public tier or from a validator-signed solvency report.

The file is JSON {chainId, member, height, stateRoot, account, proof} (hex with 0x). It
verifies when its height and root are the expected ones and the account bytes, hashed
up the Merkle path with the globals hash, give that root (`clearing.transition.root`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from clearing.state import Member
from clearing.transition.root import AccountProof, verify_account_proof
from clearing.transition.snapshot import decode_member
from proofs.errors import ProofsError
from records.codec import DecodeError


class AccountProofError(ProofsError):
    """An account proof that does not prove the member's account under the root."""


class BadProofFile(AccountProofError):
    """The file is not an account proof (not JSON, a field missing or not hex)."""


class WrongHeight(AccountProofError):
    def __init__(self, expected: int, found: int) -> None:
        super().__init__(f"the proof is for height {found}, not the expected {expected}")
        self.expected = expected
        self.found = found


class WrongRoot(AccountProofError):
    def __init__(self, expected: bytes, found: bytes) -> None:
        super().__init__(f"the proof is against root 0x{found.hex()}, not 0x{expected.hex()}")
        self.expected = expected
        self.found = found


class NotInRoot(AccountProofError):
    """The account bytes and path do not hash to the root (a changed balance, say)."""

    def __init__(self, member: bytes, root: bytes) -> None:
        super().__init__(f"the account of 0x{member.hex()} is not the one under 0x{root.hex()}")
        self.member = member
        self.root = root


@dataclass(frozen=True)
class AccountProofFile:
    chain_id: int
    member: bytes
    height: int
    state_root: bytes
    account: bytes
    proof: AccountProof

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "member": "0x" + self.member.hex(),
            "height": self.height,
            "stateRoot": "0x" + self.state_root.hex(),
            "account": "0x" + self.account.hex(),
            "proof": "0x" + self.proof.encode().hex(),
        }

    @classmethod
    def from_json(cls, text: bytes) -> AccountProofFile:
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise BadProofFile(f"not an account proof: {exc!r}") from exc
        return cls.from_object(obj)

    @classmethod
    def from_object(cls, obj: Any) -> AccountProofFile:
        try:
            return cls(
                int(obj["chainId"]),
                _hex(obj["member"], 20),
                int(obj["height"]),
                _hex(obj["stateRoot"], 32),
                _hex(obj["account"]),
                AccountProof.decode(_hex(obj["proof"])),
            )
        except (ValueError, KeyError, TypeError) as exc:  # DecodeError is a ValueError
            raise BadProofFile(f"not an account proof: {exc!r}") from exc


def check_account_proof(
    found: AccountProofFile, state_root: bytes, height: int | None = None
) -> Member:
    """The member's account, if `found` proves it under `state_root` (at `height`);
    raises WrongHeight, WrongRoot or NotInRoot otherwise."""
    if height is not None and found.height != height:
        raise WrongHeight(height, found.height)
    if found.state_root != state_root:
        raise WrongRoot(state_root, found.state_root)
    if not verify_account_proof(state_root, found.member, found.account, found.proof):
        raise NotInRoot(found.member, state_root)
    try:
        return decode_member(found.account)
    except DecodeError as exc:  # hashes to the root yet undecodable: another version
        raise BadProofFile(f"the proven account does not decode: {exc}") from exc


def _hex(value: object, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"{value!r} is not 0x-hex")
    raw = bytes.fromhex(value[2:])
    if length is not None and len(raw) != length:
        raise ValueError(f"{value!r} is not {length} bytes")
    return raw
