"""Deposit events as the vault logs them, decoded straight from raw JSON-RPC logs.

`DepositEvent` is the chain-side record: it keeps the block hash and on-chain
amount, which clearing does not need but the watcher uses for finality checks.
Wire form: msgpack list `[FORMAT_VERSION, fields...]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak

from bridge.wire import check_fields, pack_record, unpack_record
from lightclient.codec import DecodeError

DEPOSITED_TOPIC = keccak(text="Deposited(address,address,uint256,uint256,uint32)")
DEPOSITED_TOPIC_HEX = "0x" + DEPOSITED_TOPIC.hex()
__all__ = ["DEPOSITED_TOPIC_HEX", "DepositEvent", "decode_deposit_log"]


@dataclass(frozen=True)
class DepositEvent:
    chain_id: int
    vault: bytes
    tx_hash: bytes
    log_index: int
    block_number: int
    block_hash: bytes
    member: bytes
    sub_account: int
    token: bytes
    amount: int  # on-chain units
    deposit_nonce: int

    @property
    def key(self) -> tuple[int, bytes, int]:
        """The dedup key: one chain log is one deposit, forever."""
        return (self.chain_id, self.tx_hash, self.log_index)

    def encode(self) -> bytes:
        return pack_record(
            [
                self.chain_id,
                self.vault,
                self.tx_hash,
                self.log_index,
                self.block_number,
                self.block_hash,
                self.member,
                self.sub_account,
                self.token,
                self.amount.to_bytes(32, "big"),
                self.deposit_nonce.to_bytes(32, "big"),
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> DepositEvent:
        fields = unpack_record(data, "DepositEvent", 11)
        check_fields(fields, "DepositEvent", {1: 20, 2: 32, 5: 32, 6: 20, 8: 20, 9: 32, 10: 32})
        chain_id, vault, tx_hash, log_index, number, block_hash, member, sub, token = fields[:9]
        return cls(
            chain_id=chain_id,
            vault=vault,
            tx_hash=tx_hash,
            log_index=log_index,
            block_number=number,
            block_hash=block_hash,
            member=member,
            sub_account=sub,
            token=token,
            amount=int.from_bytes(fields[9], "big"),
            deposit_nonce=int.from_bytes(fields[10], "big"),
        )


def decode_deposit_log(chain_id: int, log: dict[str, Any]) -> DepositEvent:
    """Decode one raw `eth_getLogs` entry of the vault's Deposited event."""
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
        member=bytes.fromhex(topics[1][-40:]),
        sub_account=int.from_bytes(data[32:], "big"),
        token=bytes.fromhex(topics[2][-40:]),
        amount=int.from_bytes(data[:32], "big"),
        deposit_nonce=int(topics[3], 16),
    )
