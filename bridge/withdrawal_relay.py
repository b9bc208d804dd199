"""Relaying withdrawals, whatever talks to the chain: what a relayer decides before it
pays one, over `WithdrawalVaults`, the few vault calls it needs.

Two implementations: web3's (bridge/relayer.py, `clearnode relay`) and the client SDK's
over plain JSON-RPC (clearnode/client/vault.py, `Client.relay`), so a member who installed
the SDK alone relays by the same rules as the node's relayer. The relayer trusts nothing
the node serves but the signatures: before sending it reads the vault's validator set
and counts the signatures against it, so it never submits what the vault would refuse;
a withdrawal the vault already paid (another relayer won the race, or a restart) is
skipped after one read, and one signed for an epoch the vault has left waits for the
new set's signatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bridge.validators import EvmValidatorSet
from bridge.withdrawal import (
    WithdrawalAuthorization,
    WithdrawalError,
    collect_withdrawal_signatures,
)

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount


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


class WithdrawalVaults(Protocol):
    """The vault calls relaying a withdrawal makes on one chain (blocking)."""

    @property
    def chain_id(self) -> int:
        """The chain these vaults are on."""
        ...

    @property
    def refusals(self) -> tuple[type[Exception], ...]:
        """What these calls raise when the chain cannot be read or refuses a payment: said
        in that withdrawal's outcome, and the next one is tried."""
        ...

    def is_withdrawal_used(self, vault: bytes, member: bytes, nonce: int) -> bool:
        """Whether `vault` paid `member`'s withdrawal `nonce` (or refused it for good)."""
        ...

    def get_validator_set(self, vault: bytes) -> EvmValidatorSet:
        """The validator set `vault` trusts now."""
        ...

    def withdraw(
        self, auth: WithdrawalAuthorization, signatures: list[bytes], sender: LocalAccount
    ) -> str:
        """Submit `auth` with `signatures` (ordered by signer) from `sender`, once mined:
        the transaction's hash, 0x-hex."""
        ...


@dataclass(frozen=True)
class RelayOutcome:
    """What relaying one withdrawal did: `result` is "paid" (with the transaction's
    `tx_hash`), "already paid", or why it was not sent."""

    member: str
    nonce: str
    result: str
    tx_hash: str = ""

    def to_json(self) -> dict[str, str]:
        """The outcome as `clearnode relay` prints it, one JSON object a line."""
        return {"member": self.member, "nonce": self.nonce, "result": self.result,
                "tx_hash": self.tx_hash}  # fmt: skip


def relay_withdrawals(
    vaults: WithdrawalVaults, sender: LocalAccount, withdrawals: list[dict[str, Any]]
) -> list[RelayOutcome]:
    """Relay every complete withdrawal on `vaults`' chain that its vault has not paid."""
    refused: tuple[type[Exception], ...] = (RelayJsonError, WithdrawalError, *vaults.refusals)
    outcomes = []
    for body in withdrawals:
        if not body.get("complete") or body.get("chain_id") != vaults.chain_id:
            continue
        member, nonce = str(body.get("member")), str(body.get("nonce"))
        try:
            result, tx_hash = relay_one_withdrawal(vaults, sender, *parse_relay_json(body))
        except refused as exc:
            result, tx_hash = f"{type(exc).__name__}: {exc}", ""
        outcomes.append(RelayOutcome(member, nonce, result, tx_hash))
    return outcomes


def relay_one_withdrawal(
    vaults: WithdrawalVaults,
    sender: LocalAccount,
    auth: WithdrawalAuthorization,
    signatures: list[bytes],
) -> tuple[str, str]:
    if vaults.is_withdrawal_used(auth.vault, auth.member, auth.nonce):
        return "already paid", ""
    on_chain = vaults.get_validator_set(auth.vault)
    if auth.epoch != on_chain.epoch:
        return f"signed for epoch {auth.epoch}, vault at epoch {on_chain.epoch}", ""
    collected = collect_withdrawal_signatures(auth, on_chain, signatures)
    if not collected.is_complete():
        return (f"no quorum of epoch {auth.epoch}: {collected.get_signed_power()} of "
                f"{on_chain.total_power}"), ""  # fmt: skip
    return "paid", vaults.withdraw(auth, collected.get_ordered(), sender)
