"""What a chain node answers the watcher (logs, headers, receipts), read once with every
field's shape checked.

A node's answer is input from outside, as a peer's message is: an error object is an
`RpcError`; a field missing, not hex or of another length a `MalformedAnswer` naming the
field and what was there, which the watcher backs off from and asks again, as after an error object;
never a `KeyError` deep in a decoder, which would restart its task with a traceback
(node/bridge/chains.py) and tell the operator nothing of the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.rpc_values import parse_data, parse_quantity, show


class ChainError(Exception):
    """Base of every typed error the chain adapter raises."""


class RpcError(ChainError):
    """The node answered a JSON-RPC request with an error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: error {code}: {message}")
        self.method, self.code, self.message = method, code, message

    @property
    def is_rate_limit(self) -> bool:
        return self.code in (-32005, 429) or "rate limit" in self.message.lower()

    @property
    def is_range_too_large(self) -> bool:
        text = self.message.lower()
        return (self.code == -32602 and "range" in text) or any(
            hint in text for hint in ("too many", "limit exceeded", "response size", "block range")
        )


def read_error(method: str, error: Any) -> RpcError:
    """The error object a node answered `method` with (a code and a message; some nodes
    send a bare string)."""
    if not isinstance(error, dict):
        return RpcError(method, -1, str(error))
    code = error.get("code")
    return RpcError(method, code if type(code) is int else -1, str(error.get("message", "")))


class MalformedAnswer(ChainError):
    """The node's answer is not of the shape its method promises (no result, a field
    missing, not hex, of another length): a node's bug or lie, read as nothing; the
    reader backs off and asks again, as after an error object."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"{what}: {problem}")
        self.what, self.problem = what, problem


def read_quantity(what: str, value: Any, field: str = "") -> int:
    """`value`, a hex quantity of an answer, as an int; the error names it `what: field`
    (formatted only then: a scan reads thousands of logs)."""
    try:
        return parse_quantity(value)
    except ValueError as exc:
        raise MalformedAnswer(name_field(what, field), str(exc)) from None


def read_data(what: str, value: Any, length: int | None = None, field: str = "") -> bytes:
    """`value`, hex data of an answer, of `length` bytes if given; the error names it as
    `read_quantity`'s does."""
    try:
        return parse_data(value, length)
    except ValueError as exc:
        raise MalformedAnswer(name_field(what, field), str(exc)) from None


def name_field(what: str, field: str) -> str:
    return f"{what}: {field}" if field else what


@dataclass(frozen=True)
class ChainLog:
    """One log of `eth_getLogs`, or of a receipt's `logs`."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    tx_hash: bytes
    log_index: int
    removed: bool  # a log of a block reorganised away since (geth's and anvil's flag)

    @property
    def block_ref(self) -> tuple[int, bytes]:
        """The number and hash of the block the log says it is in."""
        return self.block_number, self.block_hash


@dataclass(frozen=True)
class ChainBlock:
    """A canonical block's header, as far as the watcher reads it."""

    hash: bytes
    time_s: int  # its timestamp, unix seconds


@dataclass(frozen=True)
class ChainReceipt:
    """A transaction's receipt: whether it succeeded, its block, its logs."""

    succeeded: bool
    block_number: int
    block_hash: bytes
    logs: tuple[ChainLog, ...]


def read_logs(what: str, answer: Any) -> list[ChainLog]:
    """The logs of an answer (`what` names the method) that must be a list of them."""
    if not isinstance(answer, list):
        raise MalformedAnswer(what, f"{show(answer)} is not a list of logs")
    return [read_log(f"{what} log {i}", entry) for i, entry in enumerate(answer)]


def read_log(what: str, entry: Any) -> ChainLog:
    if not isinstance(entry, dict) or not isinstance(entry.get("topics"), list):
        raise MalformedAnswer(what, f"{show(entry)} is not a log")
    removed = entry.get("removed", False)
    if not isinstance(removed, bool):
        raise MalformedAnswer(f"{what}: removed", f"{show(removed)} is not a boolean")
    return ChainLog(
        address=read_data(what, entry.get("address"), 20, "address"),
        topics=tuple(read_data(what, t, 32, "topic") for t in entry["topics"]),
        data=read_data(what, entry.get("data"), field="data"),
        block_number=read_quantity(what, entry.get("blockNumber"), "blockNumber"),
        block_hash=read_data(what, entry.get("blockHash"), 32, "blockHash"),
        tx_hash=read_data(what, entry.get("transactionHash"), 32, "transactionHash"),
        log_index=read_quantity(what, entry.get("logIndex"), "logIndex"),
        removed=removed,
    )


def describe_log(event: str, log: ChainLog) -> str:
    """How an error names a log that is not the `event` it should be."""
    return f"a {event} log (tx 0x{log.tx_hash.hex()}, index {log.log_index})"


def read_header(number: int, header: Any) -> ChainBlock:
    """Block `number`'s hash and timestamp from the node's `eth_getBlockByNumber`."""
    what = f"eth_getBlockByNumber {number}"
    if not isinstance(header, dict):
        raise MalformedAnswer(what, f"{show(header)} is not a block")
    return ChainBlock(
        read_data(what, header.get("hash"), 32, "hash"),
        read_quantity(what, header.get("timestamp"), "timestamp"),
    )


def read_receipt(tx_hash: bytes, answer: Any) -> ChainReceipt:
    """Transaction `tx_hash`'s receipt from the node's `eth_getTransactionReceipt`."""
    what = f"eth_getTransactionReceipt 0x{tx_hash.hex()}"
    if not isinstance(answer, dict):
        raise MalformedAnswer(what, f"{show(answer)} is not a receipt")
    return ChainReceipt(
        succeeded=read_quantity(what, answer.get("status"), "status") == 1,
        block_number=read_quantity(what, answer.get("blockNumber"), "blockNumber"),
        block_hash=read_data(what, answer.get("blockHash"), 32, "blockHash"),
        logs=tuple(read_logs(what, answer.get("logs"))),
    )
