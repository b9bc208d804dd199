"""A validator's withdrawal duties: sign each pending WithdrawalRecord for its vault,
and attest the ones the vault can no longer pay.

Every validator derives the same `WithdrawalAuthorization` from the committed
record (bridge.withdrawal.compute_withdrawal_authorization): the vault from its
config, the vault's epoch read at a final block (rotations.py reads it each round),
and the record's own expiry (fixed by the ledger from the debiting block's time) —
never a clock — so honest signatures land on one digest. Only members of the
vault's current set sign, and a pending record signed for an epoch the vault has
rotated away from is signed again for the new epoch (the vault refuses the old
signatures with `WrongEpoch`). Records on chains this node does not watch are
left to the validators that do; a failed chain read is retried on the next round.
Both duties sign only while the validator set in force lists this validator with
power (and, for withdrawals, its bridge key's address): signers.OwnKeys.

Once a final block of the chain is past a record's expiry and the vault shows its
nonce unused, the validator signs that `ExpiryObservation` (bridge/expiries.py);
a quorum of them refunds the debit (clearing/withdrawal_expiry.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge.eip712 import get_address
from bridge.validators import EvmValidatorSet
from bridge.withdrawal import WithdrawalSignature, sign_withdrawal_record
from clearing.attestation import Attestation, sign_attestation
from clearing.state import WithdrawalRecord
from clearing.withdrawal_expiry import EXPIRED_DOMAIN, ExpiryObservation
from node.bridge.chains import CHAIN_READ_ERRORS, VaultReader

log = logging.getLogger(__name__)
WithdrawalKey = tuple[bytes, int]


def group_by_chain(
    pending: Mapping[WithdrawalKey, WithdrawalRecord],
    done: set[WithdrawalKey],
    vaults: Mapping[int, object],
) -> dict[int, list[WithdrawalRecord]]:
    """Pending records not in `done`, by watched chain; `done` forgets cleared ones."""
    done &= set(pending)
    todo: dict[int, list[WithdrawalRecord]] = {}
    for key in sorted(set(pending) - done):
        record = pending[key]
        if record.chain_id in vaults:
            todo.setdefault(record.chain_id, []).append(record)
    return todo


VaultSetGetter = Callable[[int], tuple[bytes, EvmValidatorSet] | None]
"""(vault, its set at the last final block read) of a watched chain, or None unread."""


@dataclass
class WithdrawalSigner:
    get_evm_key: Callable[[], bytes | None]  # None while the set in force lets it sign nothing
    get_vault_set: VaultSetGetter
    send: Callable[[WithdrawalSignature], Awaitable[None]]
    signed: dict[WithdrawalKey, int] = field(default_factory=dict)  # the epoch signed for

    async def sign_pending(self, pending: Mapping[WithdrawalKey, WithdrawalRecord]) -> None:
        """Sign every pending record of a watched chain for the vault's current epoch
        (read at a final block), as a member of that epoch's set; a record signed for
        an epoch the vault has left is signed again for the new one."""
        self.signed = {key: epoch for key, epoch in self.signed.items() if key in pending}
        evm_private_key = self.get_evm_key()
        if evm_private_key is None:
            return
        address = get_address(evm_private_key)
        for key in sorted(pending):
            record = pending[key]
            read = self.get_vault_set(record.chain_id)
            if read is None:
                continue  # a chain this node does not watch, or not read yet
            vault, validators = read
            previous = self.signed.get(key)
            if previous == validators.epoch or validators.get_power(address) == 0:
                continue
            signature = sign_withdrawal_record(
                record, vault=vault, epoch=validators.epoch, evm_private_key=evm_private_key
            )
            self.signed[key] = validators.epoch
            if previous is not None:
                log.info("withdrawal nonce %d of 0x%s signed again for epoch %d (was %d): "
                         "the vault rotated", record.nonce, record.member.hex(),
                         validators.epoch, previous)  # fmt: skip
            await self.send(signature)


@dataclass
class ExpiryAttester:
    key: Ed25519PrivateKey
    network_chain_id: int
    vaults: Mapping[int, VaultReader]  # by EVM chain id
    send: Callable[[ExpiryObservation, Attestation], Awaitable[None]]
    can_attest: Callable[[], bool]  # the set in force lists this validator with power
    attested: set[WithdrawalKey] = field(default_factory=set)

    async def attest_expired(self, pending: Mapping[WithdrawalKey, WithdrawalRecord]) -> None:
        """Attest every pending record of a watched chain that a final block shows
        expired and unpaid, once (own messages are re-gossiped until settled); none
        while this validator's attestations would not count (none marked attested: a
        validator governance adds attests what is still pending from then on)."""
        if not self.can_attest():
            return
        for chain_id, records in group_by_chain(pending, self.attested, self.vaults).items():
            reader = self.vaults[chain_id]
            try:
                head = await reader.get_final_stamp()
                for record in records:
                    if head is not None and record.expiry < head[1]:
                        observation = await reader.observe_expiry(record, head)
                        if observation is not None:
                            await self.attest(observation)
            except CHAIN_READ_ERRORS as exc:
                log.warning("chain %d: expiries unreadable, retrying later: %s", chain_id, exc)

    async def attest(self, observation: ExpiryObservation) -> None:
        body = observation.to_fields()
        attestation = sign_attestation(self.key, EXPIRED_DOMAIN, self.network_chain_id, body)
        self.attested.add((observation.member, observation.nonce))
        log.info("withdrawal nonce %d of 0x%s expired unpaid at block %d: attested",
                 observation.nonce, observation.member.hex(), observation.block_number)  # fmt: skip
        await self.send(observation, attestation)
