"""Deposit events as the vault logs them, decoded straight from raw JSON-RPC logs.

`DepositEvent` is the chain-side record: it keeps the block hash and on-chain
amount, which clearing does not need but the watcher uses for finality checks, and the
block's timestamp, which clearing credits no earlier than (clearing/collateral.py). A log
does not carry its block's timestamp: the watcher reads it with the block's header, which
it fetches anyway to check the block is canonical.
Wire form: msgpack list `[DEPOSIT_EVENT_VERSION, fields...]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak

from bridge.wire import Versioned
from records.codec import DecodeError
from records.declared import Address, ChainId, Hash, Uint, Uint256, declare_record

DEPOSITED_TOPIC = keccak(text="Deposited(address,address,uint256,uint256,uint32)")
DEPOSITED_TOPIC_HEX = "0x" + DEPOSITED_TOPIC.hex()
DEPOSIT_EVENT_VERSION = 2  # 2: the block's timestamp
__all__ = ["DEPOSITED_TOPIC_HEX", "DepositEvent", "decode_deposit_log"]


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


def decode_deposit_log(chain_id: int, log: dict[str, Any], block_time_s: int) -> DepositEvent:
    """Decode one raw `eth_getLogs` entry of the vault's Deposited event, in a block of
    timestamp `block_time_s`."""
    topics = log.get("topics", [])
    if len(topics) != 4 or topics[0] != DEPOSITED_TOPIC_HEX:
        raise DecodeError("Deposited log", f"unexpected topics {topics}")
    data = bytes.fromhex(log["data"][2:])
    if len(data) != 64:
        raise DecodeError("Deposited log", f"data is {len(data)} bytes, want 64")
    return DepositEvent(
        chain_id=chain_id,
        vault=bytes.fromhex(log["address"][2:]),
        tx_hash=bytes.fromhex(log["transactionHash"][2:]),
        log_index=int(log["logIndex"], 16),
        block_number=int(log["blockNumber"], 16),
        block_hash=bytes.fromhex(log["blockHash"][2:]),
        block_time_s=block_time_s,
        member=bytes.fromhex(topics[1][-40:]),
        sub_account=int.from_bytes(data[32:], "big"),
        token=bytes.fromhex(topics[2][-40:]),
        amount=int.from_bytes(data[:32], "big"),
        deposit_nonce=int(topics[3], 16),
    )
