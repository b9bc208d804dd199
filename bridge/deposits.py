"""Deposit events as the vault logs them, decoded from its logs (bridge/chain_answers.py).

`DepositEvent` is the chain-side record: it keeps the block hash and on-chain
amount, which clearing does not need but the watcher uses for finality checks, and the
block's timestamp, which clearing credits no earlier than (clearing/collateral.py). A log
does not carry its block's timestamp: the watcher reads it with the block's header, which
it fetches anyway to check the block is canonical.
Wire form: msgpack list `[DEPOSIT_EVENT_VERSION, fields...]`.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.crypto import keccak

from bridge.chain_answers import ChainLog, MalformedAnswer, describe_log
from bridge.wire import Versioned
from records.declared import Address, ChainId, Hash, Uint, Uint256, declare_record

DEPOSITED_TOPIC = keccak(text="Deposited(address,address,uint256,uint256,uint32)")
DEPOSITED_TOPIC_HEX = "0x" + DEPOSITED_TOPIC.hex()
DEPOSIT_EVENT_VERSION = 2  # 2: the block's timestamp
__all__ = ["DEPOSITED_TOPIC", "DEPOSITED_TOPIC_HEX", "DepositEvent", "decode_deposit_log"]


@declare_record(head=DEPOSIT_EVENT_VERSION)
@dataclass(frozen=True)
class DepositEvent(Versioned):
    chain_id: ChainId
    vault: Address
    tx_hash: Hash
    log_index: Uint
    block_number: Uint
    block_hash: Hash
    block_time_s: Uint  # the block's timestamp, unix seconds
    member: Address
    sub_account: Uint
    token: Address
    amount: Uint256  # on-chain units
    deposit_nonce: Uint256

    @property
    def key(self) -> tuple[int, bytes, int]:
        """The dedup key: one chain log is one deposit, forever."""
        return (self.chain_id, self.tx_hash, self.log_index)


def decode_deposit_log(chain_id: int, log: ChainLog, block_time_s: int) -> DepositEvent:
    """Decode one log of the vault's Deposited event, in a block of timestamp
    `block_time_s`; `MalformedAnswer` if it has not the event's topics and data."""
    if len(log.topics) != 4 or log.topics[0] != DEPOSITED_TOPIC:
        raise MalformedAnswer(describe_log("Deposited", log), f"{len(log.topics)} topics")
    if len(log.data) != 64:
        raise MalformedAnswer(describe_log("Deposited", log), f"data of {len(log.data)} bytes")
    return DepositEvent(
        chain_id=chain_id,
        vault=log.address,
        tx_hash=log.tx_hash,
        log_index=log.log_index,
        block_number=log.block_number,
        block_hash=log.block_hash,
        block_time_s=block_time_s,
        member=log.topics[1][-20:],
        sub_account=int.from_bytes(log.data[32:], "big"),
        token=log.topics[2][-20:],
        amount=int.from_bytes(log.data[:32], "big"),
        deposit_nonce=int.from_bytes(log.topics[3], "big"),
    )
