"""Collateral credits (deposits observed on a chain) and debits.

A deposit is credited only with attestations of validators holding more than
2/3 of voting power over the same observation; external-bridge events are the
same record attested the same way. Each ``(chain_id, tx_hash, log_index)`` is
credited at most once, forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from clearing.assets import CollateralKey
from clearing.attestation import (
    Attestation,
    compute_signing_bytes,
    decode_attestations,
    verify_quorum_attestations,
)
from clearing.codec import expect_bytes, expect_int, expect_list
from clearing.context import BlockContext
from clearing.errors import (
    DuplicateCredit,
    InsufficientCollateral,
    UnknownCollateral,
)
from clearing.events import Event, make_event
from clearing.state import ClearingState, SubAccount, get_sub_account_for_write
from clearing.units import MAX_UINT64

CREDIT_DOMAIN = "collateral-credit"
MAX_SUB_ACCOUNT = 2**32 - 1


@dataclass(frozen=True, slots=True)
class CollateralObservation:
    """A deposit event seen on ``chain_id``: ``quanta`` of ``token`` to ``member``."""

    chain_id: int
    vault: bytes
    tx_hash: bytes
    log_index: int
    member: bytes
    sub_account: int
    token: bytes
    quanta: int

    @property
    def key(self) -> tuple[int, bytes, int]:
        return (self.chain_id, self.tx_hash, self.log_index)

    def to_fields(self) -> list[object]:
        return [
            self.chain_id, self.vault, self.tx_hash, self.log_index, self.member,
            self.sub_account, self.token, self.quanta,
        ]  # fmt: skip

    @classmethod
    def from_fields(cls, obj: object) -> CollateralObservation:
        f = expect_list(obj, "CollateralObservation", 8)
        return cls(
            chain_id=expect_int(f[0], "chain_id", 1),
            vault=expect_bytes(f[1], "vault", 20),
            tx_hash=expect_bytes(f[2], "tx_hash", 32),
            log_index=expect_int(f[3], "log_index"),
            member=expect_bytes(f[4], "member", 20),
            sub_account=expect_int(f[5], "sub_account", 0, MAX_SUB_ACCOUNT),
            token=expect_bytes(f[6], "token", 20),
            quanta=expect_int(f[7], "quanta", 1, MAX_UINT64),
        )

    def signing_bytes(self, chain_id: int) -> bytes:
        return compute_signing_bytes(CREDIT_DOMAIN, chain_id, self.to_fields())


@dataclass(frozen=True, slots=True)
class CollateralCredit:
    KIND: ClassVar[int] = 3
    observation: CollateralObservation
    attestations: tuple[Attestation, ...]

    def to_fields(self) -> list[object]:
        return [self.observation.to_fields(), [a.to_fields() for a in self.attestations]]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> CollateralCredit:
        observation, attestations = expect_list(fields, "CollateralCredit", 2)
        return cls(
            CollateralObservation.from_fields(observation), decode_attestations(attestations)
        )


def process_collateral_credit(
    state: ClearingState, ctx: BlockContext, tx: CollateralCredit
) -> list[Event]:
    """Credit quanta to the member's sub-account after quorum; once per chain log."""
    obs = tx.observation
    if (obs.chain_id, obs.token) not in state.collateral_tokens:
        raise UnknownCollateral(obs.chain_id, obs.token)
    if obs.key in state.processed_credits:
        raise DuplicateCredit(obs.chain_id, obs.tx_hash, obs.log_index)
    verify_quorum_attestations(
        state.validators, state.total_power, tx.attestations, obs.signing_bytes(ctx.chain_id)
    )
    state.processed_credits.add(obs.key)
    account = get_sub_account_for_write(state, obs.member, obs.sub_account)
    increase_collateral(account, (obs.chain_id, obs.token), obs.quanta)
    return [
        make_event(
            "collateral_credited",
            member=obs.member,
            sub_account=obs.sub_account,
            chain_id=obs.chain_id,
            token=obs.token,
            quanta=obs.quanta,
            tx_hash=obs.tx_hash,
            log_index=obs.log_index,
        )
    ]


def increase_collateral(account: SubAccount, key: tuple[int, bytes], quanta: int) -> None:
    account.collateral[key] = account.collateral.get(key, 0) + quanta


def check_collateral_debit(
    account: SubAccount, member: bytes, sub_account: int, key: tuple[int, bytes], quanta: int
) -> None:
    """Raise ``InsufficientCollateral`` unless ``quanta`` can be debited."""
    available = account.collateral.get(key, 0)
    if quanta > available:
        raise InsufficientCollateral(member, sub_account, key[0], key[1], available, quanta)


def decrease_collateral(account: SubAccount, key: tuple[int, bytes], quanta: int) -> None:
    """Debit checked quanta; a zero balance disappears so encodings stay canonical."""
    remaining = account.collateral[key] - quanta
    assert remaining >= 0
    if remaining:
        account.collateral[key] = remaining
    else:
        del account.collateral[key]


def get_collateral_quanta(state: ClearingState) -> dict[CollateralKey, int]:
    """Quanta of each (chain, token) credited across every sub-account."""
    totals: dict[CollateralKey, int] = {}
    for member in state.members.values():
        for account in member.sub_accounts.values():
            for key, quanta in account.collateral.items():
                totals[key] = totals.get(key, 0) + quanta
    return totals


def get_pending_withdrawal_quanta(state: ClearingState) -> dict[CollateralKey, int]:
    """Quanta of each (chain, token) debited for withdrawal and not yet paid by the vault."""
    totals: dict[CollateralKey, int] = {}
    for record in state.pending_withdrawals.values():
        key = (record.chain_id, record.token)
        totals[key] = totals.get(key, 0) + record.quanta
    return totals


def get_vault_quanta(state: ClearingState) -> dict[CollateralKey, int]:
    """Quanta each vault must hold per token: what is credited plus what is debited but
    unpaid (those tokens are still in the vault). Equal to the on-chain balance / quantum
    once every deposit is credited."""
    totals = get_collateral_quanta(state)
    for key, quanta in get_pending_withdrawal_quanta(state).items():
        totals[key] = totals.get(key, 0) + quanta
    return totals
