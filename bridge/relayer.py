"""A relayer: submit the complete rotations and withdrawals a node serves to their vault.

Anyone may relay (the signatures are the authorisation, the sender pays gas). The
relayer trusts nothing the node serves but the signatures: before sending it reads
the vault's validator set and counts the signatures against it, so it never
submits what the vault would refuse. A rotation the vault already made (another
relayer won the race, or a restart) and a withdrawal the vault already paid are
skipped after one read; a withdrawal signed for an epoch the vault has left waits
for the new set's signatures. Rotations go first: withdrawals are then checked
against the set they install.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from bridge.chain import Chain, ChainError
from bridge.rotation import Rotation
from bridge.validators import EvmValidatorSet, ValidatorSetError
from bridge.vault import get_validator_set, is_withdrawal_used, rotate, withdraw
from bridge.withdrawal import (
    WithdrawalAuthorization,
    WithdrawalError,
    collect_withdrawal_signatures,
)


class RelayJsonError(ValueError):
    """A served withdrawal that is not a well-formed vault call."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"withdrawal JSON: {reason}")
        self.reason = reason


def parse_relay_json(body: dict[str, Any]) -> tuple[WithdrawalAuthorization, list[bytes]]:
    """The vault call in bridge.withdrawal.get_relay_json's form (the node API's)."""
    try:
        auth = WithdrawalAuthorization(
            chain_id=int(body["chain_id"]),
            vault=bytes.fromhex(body["vault"].removeprefix("0x")),
            epoch=int(body["epoch"]),
            member=bytes.fromhex(body["member"].removeprefix("0x")),
            token=bytes.fromhex(body["token"].removeprefix("0x")),
            amount=int(body["amount"]),
            recipient=bytes.fromhex(body["recipient"].removeprefix("0x")),
            nonce=int(body["nonce"]),
            expiry=int(body["expiry"]),
        )
        signatures = [bytes.fromhex(s.removeprefix("0x")) for s in body["signatures"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RelayJsonError(f"{type(exc).__name__}: {exc}") from None
    return auth, signatures


def parse_address(text: Any) -> bytes:
    address = bytes.fromhex(text.removeprefix("0x"))
    if len(address) != 20:
        raise ValueError(f"address of {len(address)} bytes")
    return address


def parse_rotation_json(body: dict[str, Any]) -> tuple[Rotation, list[bytes]]:
    """The rotation in bridge.rotation.get_rotation_relay_json's form (the node API's)."""
    try:
        current = EvmValidatorSet(
            int(body["epoch"]),
            tuple(zip(map(parse_address, body["current_validators"]),
                      map(int, body["current_powers"]), strict=True)),
        )  # fmt: skip
        target = EvmValidatorSet(
            int(body["new_epoch"]),
            tuple(zip(map(parse_address, body["validators"]), map(int, body["powers"]),
                      strict=True)),
        )  # fmt: skip
        rotation = Rotation(int(body["chain_id"]), parse_address(body["vault"]), current, target)
        signatures = [bytes.fromhex(s.removeprefix("0x")) for s in body["signatures"]]
    except (KeyError, TypeError, ValueError, AttributeError, ValidatorSetError) as exc:
        raise RelayJsonError(f"{type(exc).__name__}: {exc}") from None
    return rotation, signatures


@dataclass(frozen=True)
class RotationOutcome:
    vault: str
    new_epoch: int
    result: str  # "rotated", "already rotated", or why it was not sent
    tx_hash: str = ""

    def to_json(self) -> dict[str, object]:
        return {"vault": self.vault, "new_epoch": self.new_epoch, "result": self.result,
                "tx_hash": self.tx_hash}  # fmt: skip


def relay_rotations(
    chain: Chain, sender: LocalAccount, rotations: list[dict[str, Any]]
) -> list[RotationOutcome]:
    """Rotate every vault on `chain` whose served rotation starts from the set the vault
    trusts now and carries a quorum of it (blocking)."""
    outcomes = []
    for body in rotations:
        if body.get("chain_id") != chain.chain_id:
            continue
        vault, new_epoch = str(body.get("vault")), body.get("new_epoch")
        try:
            rotation, signatures = parse_rotation_json(body)
            result, tx_hash = relay_one_rotation(chain, sender, rotation, signatures)
        except (RelayJsonError, ChainError) as exc:
            result, tx_hash = f"{type(exc).__name__}: {exc}", ""
        outcomes.append(RotationOutcome(vault, int(new_epoch or 0), result, tx_hash))
    return outcomes


def relay_one_rotation(
    chain: Chain, sender: LocalAccount, rotation: Rotation, signatures: list[bytes]
) -> tuple[str, str]:
    contract = chain.contract("CollateralVault", to_checksum_address(rotation.vault))
    on_chain = get_validator_set(contract)
    if on_chain.epoch >= rotation.target.epoch:
        return f"already rotated: vault at epoch {on_chain.epoch}", ""
    if on_chain != rotation.current:
        return f"not from the vault's set: vault at epoch {on_chain.epoch}", ""
    collected = rotation.collect(signatures)
    if not collected.is_complete():
        return (f"no quorum: {collected.get_signed_power()} of "
                f"{collected.validator_set.total_power}"), ""  # fmt: skip
    receipt = rotate(chain, contract, rotation.target, collected.get_ordered(), sender)
    return "rotated", "0x" + bytes(receipt["transactionHash"]).hex()


@dataclass(frozen=True)
class RelayOutcome:
    member: str
    nonce: str
    result: str  # "paid", "already paid", or the error
    tx_hash: str = ""

    def to_json(self) -> dict[str, str]:
        return {"member": self.member, "nonce": self.nonce, "result": self.result,
                "tx_hash": self.tx_hash}  # fmt: skip


def relay_complete(
    chain: Chain, sender: LocalAccount, withdrawals: list[dict[str, Any]]
) -> list[RelayOutcome]:
    """Relay every complete withdrawal on `chain` the vault has not paid (blocking)."""
    outcomes = []
    for body in withdrawals:
        if not body.get("complete") or body.get("chain_id") != chain.chain_id:
            continue
        member, nonce = str(body.get("member")), str(body.get("nonce"))
        try:
            auth, signatures = parse_relay_json(body)
            if is_withdrawal_used(chain, auth.vault, auth.member, auth.nonce):
                outcomes.append(RelayOutcome(member, nonce, "already paid"))
                continue
            vault = chain.contract("CollateralVault", to_checksum_address(auth.vault))
            on_chain = get_validator_set(vault)
            if auth.epoch != on_chain.epoch:
                outcomes.append(RelayOutcome(member, nonce, f"signed for epoch {auth.epoch}, "
                                             f"vault at epoch {on_chain.epoch}"))  # fmt: skip
                continue
            collected = collect_withdrawal_signatures(auth, on_chain, signatures)
            if not collected.is_complete():
                outcomes.append(RelayOutcome(member, nonce, f"no quorum of epoch {auth.epoch}: "
                    f"{collected.get_signed_power()} of {on_chain.total_power}"))  # fmt: skip
                continue
            receipt = withdraw(chain, auth, collected.get_ordered(), sender)
        except (RelayJsonError, ChainError, WithdrawalError) as exc:
            outcomes.append(RelayOutcome(member, nonce, f"{type(exc).__name__}: {exc}"))
            continue
        tx_hash = receipt["transactionHash"]
        outcomes.append(RelayOutcome(member, nonce, "paid", "0x" + bytes(tx_hash).hex()))
    return outcomes
