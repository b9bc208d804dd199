"""A validator's withdrawal duty: sign each pending WithdrawalRecord for its vault.

Every validator derives the same `WithdrawalAuthorization` from the committed
record (bridge.withdrawal.compute_withdrawal_authorization): the vault from its
config, the vault's current epoch read from the chain, and the expiry from the
time of the block that debited the member — never a clock — so honest signatures
land on one digest. Records on chains this node does not watch are left to the
validators that do; a failed epoch read is retried on the next round.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import trio
from web3.exceptions import Web3Exception

from bridge.chain import ChainError
from bridge.withdrawal import WithdrawalSignature, sign_withdrawal_record
from clearing.state import WithdrawalRecord
from node.collateral.chains import VaultReader, get_vault

log = logging.getLogger(__name__)
WithdrawalKey = tuple[bytes, int]
EPOCH_READ_ERRORS = (trio.TooSlowError, ChainError, OSError, ValueError, Web3Exception)


@dataclass
class WithdrawalSigner:
    evm_private_key: bytes
    vaults: Mapping[int, VaultReader]  # by EVM chain id
    get_block_time_ms: Callable[[int], int]  # committed block height -> its time
    send: Callable[[WithdrawalSignature], Awaitable[None]]
    signed: set[WithdrawalKey] = field(default_factory=set)

    async def sign_pending(self, pending: Mapping[WithdrawalKey, WithdrawalRecord]) -> None:
        """Sign every pending record of a watched chain this validator has not signed."""
        self.signed &= set(pending)
        todo: dict[int, list[WithdrawalRecord]] = {}
        for key in sorted(set(pending) - self.signed):
            record = pending[key]
            if record.chain_id in self.vaults:
                todo.setdefault(record.chain_id, []).append(record)
        for chain_id, records in todo.items():
            reader = self.vaults[chain_id]
            try:
                epoch = await reader.get_epoch()
            except EPOCH_READ_ERRORS as exc:
                log.warning("chain %d: vault epoch unreadable, retrying later: %s", chain_id, exc)
                continue
            for record in records:
                signature = sign_withdrawal_record(
                    record,
                    vault=get_vault(reader.config),
                    epoch=epoch,
                    block_time_ms=self.get_block_time_ms(record.height),
                    evm_private_key=self.evm_private_key,
                )
                self.signed.add((record.member, record.nonce))
                await self.send(signature)
