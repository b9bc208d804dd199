"""A relayer: submit the complete withdrawals a node serves to their vault.

Anyone may relay (the signatures are the authorisation, the sender pays gas).
A withdrawal the vault already paid is skipped before sending, so running
several relayers, or relaying again after a crash, only costs a read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from bridge.chain import Chain, ChainError
from bridge.vault import is_withdrawal_used
from bridge.withdrawal import WithdrawalAuthorization, WithdrawalError, relay


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
            receipt = relay(chain, auth, signatures, sender)
        except (RelayJsonError, ChainError, WithdrawalError) as exc:
            outcomes.append(RelayOutcome(member, nonce, f"{type(exc).__name__}: {exc}"))
            continue
        tx_hash = receipt["transactionHash"]
        outcomes.append(RelayOutcome(member, nonce, "paid", "0x" + bytes(tx_hash).hex()))
    return outcomes
