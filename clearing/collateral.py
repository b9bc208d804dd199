"""Collateral credits (deposits observed on a chain) and debits.

A deposit is credited only with attestations of validators holding more than
2/3 of voting power over the same observation; external-bridge events are the
same record attested the same way. A vault numbers its deposits 1, 2, 3, ...
and each ``(chain_id, vault, deposit_nonce)`` is credited at most once, forever
(replay_protection.py keeps that exactly in memory bounded by how far out of order quorums
complete). A deposit that cannot be credited (an unregistered token, less than
one quantum, too many quanta) is observed with ``quanta = 0``: it credits
nothing but consumes its nonce, so the credited prefix moves past it. An
external bridge numbers its events per (chain id, vault) the same way.

The ledger keeps what each vault holds of each token (``vault_quanta``: credits in,
payouts out) and credits no deposit that would take it past ``MAX_VAULT_QUANTA``: such
a deposit also consumes its nonce uncredited. Whatever the token's supply and quantum,
no balance or total of it can outgrow the integers the state root encodes, which would
stop every validator at the same block.

A deposit is credited no earlier than it happened: the observation carries its chain
block's time, and a block dated before it refuses the credit (``DepositNotYetDue``;
proposers wait for it, node/bridge/bridge_node.py; a payout is seen the same way,
clearing/transition/withdrawal.py). A report's reserves are read on each chain at the
last block no later than the report's time (proofs/reserves.py), so every deposit its
ledger credited is in the balance read, whatever the validators' clocks and however the
block times lag the chain's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from clearing.assets import MAX_VAULT_QUANTA, CollateralKey
from clearing.attestation import Attestations, compute_signing_bytes, verify_quorum_attestations
from clearing.context import BlockContext
from clearing.errors import DepositNotYetDue, InsufficientCollateral, UnknownCollateral
from clearing.events import Event, EventValue, make_event
from clearing.replay_protection import (
    check_deposit_nonce,
    is_deposit_credited,
    record_deposit_nonce,
)
from clearing.state import ClearingState, SubAccount, get_sub_account_for_write
from clearing.tx_kind import Priority, Sender, Submitter, TxKind
from records.declared import Address, ChainId, Declared, Hash, Int, Uint, declare_record

CREDIT_DOMAIN = "collateral-credit"
OBSERVATION_VERSION = 3  # 3: the deposit block's time; 2: the vault's deposit nonce, quanta 0
MAX_SUB_ACCOUNT = 2**32 - 1
SubAccountId = Annotated[int, Int(0, MAX_SUB_ACCOUNT)]


@declare_record(head=OBSERVATION_VERSION)
@dataclass(frozen=True, slots=True)
class CollateralObservation(Declared):
    """Deposit ``deposit_nonce`` of ``vault`` on ``chain_id``: ``quanta`` of ``token`` to
    ``member`` (0: not creditable, the nonce is only consumed).

    Wire form ``[OBSERVATION_VERSION, chain_id, vault, tx_hash, log_index,
    deposit_nonce, member, sub_account, token, quanta, block_time_s]``; it is also what
    validators sign, so an older version's signature never verifies as this one."""

    chain_id: ChainId
    vault: Address
    tx_hash: Hash
    log_index: Uint
    deposit_nonce: Annotated[int, Int(1)]
    member: Address
    sub_account: SubAccountId
    token: Address
    quanta: Uint
    block_time_s: Uint  # the timestamp of the deposit's chain block, unix seconds

    @property
    def key(self) -> tuple[int, bytes, int]:
        """The replay key ``(chain_id, vault, deposit_nonce)``: one per deposit, forever."""
        return (self.chain_id, self.vault, self.deposit_nonce)

    def signing_bytes(self, chain_id: int) -> bytes:
        return compute_signing_bytes(CREDIT_DOMAIN, chain_id, self.to_fields())


@declare_record
@dataclass(frozen=True, slots=True)
class CollateralCredit(Declared):
    KIND: ClassVar[int] = 3
    observation: CollateralObservation
    attestations: Attestations


def process_collateral_credit(
    state: ClearingState, ctx: BlockContext, tx: CollateralCredit
) -> list[Event]:
    """Credit quanta to the member's sub-account after quorum; once per vault nonce.
    Zero quanta (a deposit the bridge cannot credit), or more than the vault has room for
    in the ledger, only consumes the nonce: the tokens stay in the vault, uncredited."""
    check_collateral_credit(state, ctx.chain_id, tx)
    check_deposit_due(tx.observation, ctx.time_ms)
    obs = tx.observation
    record_deposit_nonce(state.deposit_nonces, obs.chain_id, obs.vault, obs.deposit_nonce)
    deposit = get_deposit_fields(obs)
    if not obs.quanta:
        return [make_event("collateral_not_credited", reason="uncreditable", **deposit)]
    key = (obs.chain_id, obs.token)
    room = get_vault_room(state, key)
    if obs.quanta > room:
        return [
            make_event(
                "collateral_not_credited",
                reason="vault_capacity",
                quanta=obs.quanta,
                room=room,
                **deposit,
            )
        ]
    state.vault_quanta[key] = state.vault_quanta.get(key, 0) + obs.quanta
    account = get_sub_account_for_write(state, obs.member, obs.sub_account)
    increase_collateral(account, key, obs.quanta)
    return [make_event("collateral_credited", quanta=obs.quanta, **deposit)]


def check_collateral_credit(state: ClearingState, chain_id: int, tx: CollateralCredit) -> None:
    """A known token (unless nothing is credited), a vault nonce not credited yet, and a
    quorum of the validators in force attesting the deposit for this chain."""
    obs = tx.observation
    if obs.quanta and (obs.chain_id, obs.token) not in state.collateral_tokens:
        raise UnknownCollateral(obs.chain_id, obs.token)
    check_deposit_nonce(state.deposit_nonces, obs.chain_id, obs.vault, obs.deposit_nonce)
    verify_quorum_attestations(
        state.validators, state.total_power, tx.attestations, obs.signing_bytes(chain_id)
    )


def check_deposit_due(obs: CollateralObservation, block_time_ms: int) -> None:
    """The deposit's chain block is no later than the block crediting it. Checked in the
    block, not on admission: a credit early for one block is due in a later one."""
    if not is_chain_event_due(obs.block_time_s, block_time_ms):
        raise DepositNotYetDue(
            obs.chain_id, obs.vault, obs.deposit_nonce, obs.block_time_s, block_time_ms
        )


def is_chain_event_due(event_time_s: int, block_time_ms: int) -> bool:
    """Whether a block of time ``block_time_ms`` may take in what a chain block of time
    ``event_time_s`` (unix seconds) did: a deposit, a payout. A report's reserves are
    read at the chain's last block no later than the report's time, which must show
    everything its ledger took in."""
    return get_chain_event_due_ms(event_time_s) <= block_time_ms


def get_chain_event_due_ms(event_time_s: int) -> int:
    """The earliest block time (ms) that may take in what a chain block of time
    ``event_time_s`` did."""
    return event_time_s * 1000


def get_deposit_fields(obs: CollateralObservation) -> dict[str, EventValue]:
    """What names the deposit on its chain and whose it is, for events."""
    return {
        "member": obs.member,
        "sub_account": obs.sub_account,
        "token": obs.token,
        "chain_id": obs.chain_id,
        "vault": obs.vault,
        "deposit_nonce": obs.deposit_nonce,
        "tx_hash": obs.tx_hash,
        "log_index": obs.log_index,
    }


def get_vault_room(state: ClearingState, key: CollateralKey) -> int:
    """Quanta of ``key`` the ledger can still credit before its vault holds
    ``MAX_VAULT_QUANTA``."""
    return MAX_VAULT_QUANTA - state.vault_quanta.get(key, 0)


def decrease_vault_quanta(state: ClearingState, key: CollateralKey, quanta: int) -> None:
    """The vault paid ``quanta`` out."""
    _subtract_quanta(state.vault_quanta, key, quanta)


def _subtract_quanta(holdings: dict[CollateralKey, int], key: CollateralKey, quanta: int) -> None:
    """Take checked quanta; a zero entry disappears so encodings stay canonical."""
    remaining = holdings[key] - quanta
    assert remaining >= 0
    if remaining:
        holdings[key] = remaining
    else:
        del holdings[key]


def is_credited(state: ClearingState, key: tuple[int, bytes, int]) -> bool:
    """Whether deposit ``key`` (``CollateralObservation.key``) is settled by the ledger
    (credited, or consumed uncredited)."""
    chain_id, vault, nonce = key
    return is_deposit_credited(state.deposit_nonces, chain_id, vault, nonce)


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
    """Debit checked quanta."""
    _subtract_quanta(account.collateral, key, quanta)


def get_collateral_quanta(state: ClearingState) -> dict[CollateralKey, int]:
    """Quanta of each (chain, token) credited across every sub-account."""
    totals: dict[CollateralKey, int] = {}
    for member in state.members.values():
        for account in member.sub_accounts.values():
            for key, quanta in account.collateral.items():
                totals[key] = totals.get(key, 0) + quanta
    return totals


def get_credited_quanta(state: ClearingState) -> dict[CollateralKey, int]:
    """Members' collateral per (chain, token), as ``get_collateral_quanta`` counts it over
    every account, from what the state keeps instead: what each vault holds less the
    withdrawals not yet paid and the cash reserve. Its cost does not grow with the
    accounts."""
    credited = dict(state.vault_quanta)
    for key, quanta in get_uncredited_holdings(state).items():
        credited[key] -= quanta
    return {key: quanta for key, quanta in credited.items() if quanta}


def get_uncredited_holdings(state: ClearingState) -> dict[CollateralKey, int]:
    """What each vault holds beside its members' collateral, per (chain, token): the
    withdrawals debited and not yet paid and, of the settlement token, the cash reserve."""
    holdings = get_pending_withdrawal_quanta(state)
    for key in state.genesis.settlement_asset.tokens:
        reserve = state.settlement_reserves.get(key[0], 0)
        if reserve:
            holdings[key] = holdings.get(key, 0) + reserve
    return holdings


def get_pending_withdrawal_quanta(state: ClearingState) -> dict[CollateralKey, int]:
    """Quanta of each (chain, token) debited for withdrawal and not yet paid by the vault."""
    totals: dict[CollateralKey, int] = {}
    for record in state.pending_withdrawals.values():
        key = (record.chain_id, record.token)
        totals[key] = totals.get(key, 0) + record.quanta
    return totals


def count_vault_quanta(state: ClearingState) -> dict[CollateralKey, int]:
    """Quanta each vault must hold per token, counted from the accounts: what is credited,
    what is debited but unpaid (those tokens are still in the vault) and, for the
    settlement token, what it holds for cash. Equal to the on-chain balance / quantum once
    every deposit is credited, and to what the state keeps (``vault_quanta``)."""
    totals = get_collateral_quanta(state)
    for key, quanta in get_uncredited_holdings(state).items():
        totals[key] = totals.get(key, 0) + quanta
    return totals


def admit_collateral_credit(
    state: ClearingState, ctx: BlockContext, tx: CollateralCredit, _raw: bytes
) -> Sender:
    """A quorum attested a deposit not yet credited; unique by its chain, vault and
    deposit nonce."""
    check_collateral_credit(state, ctx.chain_id, tx)
    obs = tx.observation
    return Sender(b"credit:%d:" % obs.chain_id + obs.vault + b":%d" % obs.deposit_nonce)


COLLATERAL_CREDIT = TxKind(
    CollateralCredit, admit_collateral_credit, process_collateral_credit, Priority.SYSTEM,
    Submitter.BRIDGE,
)  # fmt: skip
