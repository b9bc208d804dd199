"""Deposit events as the vault logs them, decoded straight from raw JSON-RPC logs.

`DepositEvent` is the chain-side record: it keeps the block hash and on-chain
amount, which clearing does not need but the watcher uses for finality checks.
Wire form: msgpack list `[FORMAT_VERSION, fields...]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
from eth_utils import keccak

DEPOSITED_TOPIC = keccak(text="Deposited(address,address,uint256,uint256,uint32)")
DEPOSITED_TOPIC_HEX = "0x" + DEPOSITED_TOPIC.hex()
FORMAT_VERSION = 1


class DecodeError(Exception):
    """Bytes or a log that are not a well-formed deposit record."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what, self.reason = what, reason


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
        fields = [
            FORMAT_VERSION,
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
        packed: bytes = msgpack.packb(fields, use_bin_type=True)
        return packed

    @classmethod
    def decode(cls, data: bytes) -> DepositEvent:
        try:
            fields = msgpack.unpackb(data, raw=False)
        except (ValueError, msgpack.ExtraData) as exc:
            raise DecodeError("DepositEvent", f"not msgpack: {exc}") from None
        if not isinstance(fields, list) or len(fields) != 12 or fields[0] != FORMAT_VERSION:
            raise DecodeError("DepositEvent", "want a version-1 list of 12 fields")
        sizes = {2: 20, 3: 32, 6: 32, 7: 20, 9: 20, 10: 32, 11: 32}
        for index, field in enumerate(fields[1:], start=1):
            want = sizes.get(index)
            if want is None and (not isinstance(field, int) or field < 0):
                raise DecodeError("DepositEvent", f"field {index} is not an int >= 0")
            if want is not None and (not isinstance(field, bytes) or len(field) != want):
                raise DecodeError("DepositEvent", f"field {index} is not {want} bytes")
        return cls(
            *fields[1:10],
            amount=int.from_bytes(fields[10], "big"),
            deposit_nonce=int.from_bytes(fields[11], "big"),
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
