"""A relayer through web3: submit the complete rotations and withdrawals a node serves to
their vault (`clearnode relay`).

Anyone may relay (the signatures are the authorisation, the sender pays gas). The
relayer trusts nothing the node serves but the signatures: before sending it reads
the vault's validator set and counts the signatures against it, so it never
submits what the vault would refuse. A rotation the vault already made (another
relayer won the race, or a restart) is skipped after one read. Withdrawals are relayed
by bridge/withdrawal_relay.py's rules, which the client SDK follows over plain JSON-RPC;
here through web3 (`Web3Vaults`). Rotations go first: withdrawals are then checked
against the set they install.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from bridge.chain import Chain
from bridge.chain_answers import ChainError
from bridge.rotation import Rotation
from bridge.validators import EvmValidatorSet, ValidatorSetError
from bridge.vault import get_validator_set, is_withdrawal_used, rotate, withdraw
from bridge.withdrawal import WithdrawalAuthorization
from bridge.withdrawal_relay import RelayJsonError, RelayOutcome, relay_withdrawals


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
class Web3Vaults:
    """The vaults of one chain through web3 (`WithdrawalVaults`)."""

    chain: Chain
    refusals: tuple[type[Exception], ...] = (ChainError,)

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    def is_withdrawal_used(self, vault: bytes, member: bytes, nonce: int) -> bool:
        return is_withdrawal_used(self.chain, vault, member, nonce)

    def get_validator_set(self, vault: bytes) -> EvmValidatorSet:
        return get_validator_set(self.chain.contract("CollateralVault", to_checksum_address(vault)))

    def withdraw(
        self, auth: WithdrawalAuthorization, signatures: list[bytes], sender: LocalAccount
    ) -> str:
        receipt = withdraw(self.chain, auth, signatures, sender)
        return "0x" + bytes(receipt["transactionHash"]).hex()


def relay_complete(
    chain: Chain, sender: LocalAccount, withdrawals: list[dict[str, Any]]
) -> list[RelayOutcome]:
    """Relay every complete withdrawal on `chain` the vault has not paid (blocking)."""
    return relay_withdrawals(Web3Vaults(chain), sender, withdrawals)
