"""An EVM chain's JSON-RPC over HTTP, without web3: what the light SDK reads a chain with
(the vaults' reserves, clearnode/client/reserves.py).

`JsonRpc.connect(url, chain_id)` refuses a node that serves another chain; then
`request` is any call, and the reads a verifier makes are typed: `block_number`,
`block_time_ms`, `balance`, `call` (ABI-encoded with `encode_call`, eth-abi) and
`logs`, each at the block asked. Every failure is a `JsonRpcError` that names the URL
and the method: no answer (`RpcUnreachable`: a refused connection, a timeout;
`RpcHttpStatus`: an HTTP status other than 200), the node's own error object
(`RpcRefused`), or an answer that is not one to what was asked (`RpcBadAnswer`: not
JSON, no result, a quantity that is not hex, a block or a log other than the ones asked
for, an answer over `MAX_ANSWER_BYTES`; `RpcWrongChain`: another chain id). It checks
what an answer can be checked against the question; it cannot tell a lie that is well
formed (a balance made up, a log left out): read through a node one trusts, one's own
best.

Synchronous (httpx.Client), as web3.py's calls are: from async code run it in a worker
thread (`anyio.to_thread.run_sync`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from bridge.chain_answers import ChainLog, MalformedAnswer, read_logs
from bridge.rpc_values import parse_data, parse_quantity, show
from clearnode.client.errors import (
    RpcBadAnswer,
    RpcHttpStatus,
    RpcRefused,
    RpcUnreachable,
    RpcWrongChain,
)

RPC_TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""An answer larger than this is refused unread to the end (a node that streams without
end, or logs of a range too wide to be the vault's)."""


def encode_call(signature: str, *args: Any) -> bytes:
    """The calldata of `signature` (`"balanceOf(address)"`, no tuple argument) with
    `args` ABI-encoded: its 4-byte selector, then the arguments."""
    types = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    return keccak(text=signature)[:4] + encode(types, list(args))


def get_topic(signature: str) -> bytes:
    """An event's first topic (`"Withdrawn(uint256,address,...)"`)."""
    return keccak(text=signature)


def get_error_data(error: Any) -> bytes | None:
    """An error object's `data`, where it is hex (a revert's: geth's and anvil's form)."""
    data = error.get("data") if isinstance(error, dict) else None
    if not (isinstance(data, str) and data.startswith("0x")):
        return None
    try:
        return bytes.fromhex(data[2:])
    except ValueError:
        return None


class JsonRpc:
    """The JSON-RPC of the chain `chain_id` at `url`; `connect` checks that chain id
    first. Pass `http` to share one connection pool (it is then yours to close)."""

    def __init__(
        self, url: str, chain_id: int, timeout_s: float = RPC_TIMEOUT_S,
        http: httpx.Client | None = None,
    ) -> None:  # fmt: skip
        self.url = url
        self.chain_id = chain_id
        self._owns_http = http is None
        self.http = httpx.Client(timeout=timeout_s) if http is None else http
        self._next_id = 0

    @classmethod
    def connect(
        cls, url: str, chain_id: int, timeout_s: float = RPC_TIMEOUT_S,
        http: httpx.Client | None = None,
    ) -> JsonRpc:  # fmt: skip
        """The chain at `url`, refused (`RpcWrongChain`) unless it serves `chain_id`."""
        rpc = cls(url, chain_id, timeout_s, http)
        try:
            actual = rpc.quantity("eth_chainId", [])
            if actual != chain_id:
                raise RpcWrongChain(url, chain_id, actual)
        except BaseException:
            rpc.close()
            raise
        return rpc

    def close(self) -> None:
        """Close the connection pool, unless it was passed in (`with` closes it)."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> JsonRpc:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, params: Sequence[Any]) -> Any:
        """The `result` of one call, as the node sent it."""
        self._next_id += 1
        body = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": list(params)}
        raw = self._post(method, body)
        try:
            reply = json.loads(raw)
        except ValueError:
            raise RpcBadAnswer(self.url, method, "the answer is not JSON") from None
        if not isinstance(reply, dict):
            raise RpcBadAnswer(self.url, method, "the answer is not a JSON object")
        if reply.get("error") is not None:
            error = reply["error"]
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message", error) if isinstance(error, dict) else error
            code = code if type(code) is int else -1
            raise RpcRefused(self.url, method, code, str(message), get_error_data(error))
        if reply.get("id") != self._next_id:
            found = f"the answer is to request {show(reply.get('id'))}, not {self._next_id}"
            raise RpcBadAnswer(self.url, method, found)
        if "result" not in reply:
            raise RpcBadAnswer(self.url, method, "the answer has no result")
        return reply["result"]

    def _post(self, method: str, body: dict[str, Any]) -> bytes:
        try:
            with self.http.stream("POST", self.url, json=body) as answer:
                if answer.status_code != 200:
                    raise RpcHttpStatus(self.url, method, answer.status_code)
                chunks: list[bytes] = []
                size = 0
                for chunk in answer.iter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        too_large = f"the answer is over {MAX_ANSWER_BYTES} bytes"
                        raise RpcBadAnswer(self.url, method, too_large)
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise RpcUnreachable(self.url, method, f"{type(exc).__name__}: {exc}") from None
        return b"".join(chunks)

    def quantity(self, method: str, params: Sequence[Any]) -> int:
        """A result that must be a hex quantity."""
        return self.read_quantity(method, self.request(method, params))

    def read_quantity(self, method: str, value: Any) -> int:
        """`value`, a hex quantity in the answer to `method`, as an int (RpcBadAnswer if
        it is none)."""
        try:
            return parse_quantity(value)
        except ValueError as exc:
            raise RpcBadAnswer(self.url, method, str(exc)) from None

    def read_bytes(self, method: str, value: Any, length: int | None = None) -> bytes:
        """`value`, hex data in the answer to `method` (of `length` bytes, if given), as
        bytes (RpcBadAnswer if it is none)."""
        try:
            return parse_data(value, length)
        except ValueError as exc:
            raise RpcBadAnswer(self.url, method, str(exc)) from None

    def block_number(self) -> int:
        """The chain's latest block."""
        return self.quantity("eth_blockNumber", [])

    def block_time_ms(self, number: int) -> int:
        """Block `number`'s timestamp, in ms."""
        method = "eth_getBlockByNumber"
        block = self.request(method, [hex(number), False])
        if not isinstance(block, dict):
            raise RpcBadAnswer(self.url, method, f"no block {number}")
        if self.read_quantity(method, block.get("number")) != number:
            other = f"asked for block {number}, answered block {show(block.get('number'))}"
            raise RpcBadAnswer(self.url, method, other)
        return self.read_quantity(method, block.get("timestamp")) * 1000

    def balance(self, address: bytes, block: int) -> int:
        """`address`'s balance of the chain's native coin at `block`."""
        return self.quantity("eth_getBalance", ["0x" + address.hex(), hex(block)])

    def call(self, to: bytes, data: bytes, block: int) -> bytes:
        """What the contract at `to` returns for `data` (`encode_call`) at `block`: empty
        when no code is there."""
        params = [{"to": "0x" + to.hex(), "data": "0x" + data.hex()}, hex(block)]
        return self.read_bytes("eth_call", self.request("eth_call", params))

    def logs(self, address: bytes, topic: bytes, from_block: int, to_block: int) -> list[ChainLog]:
        """The logs `address` emitted with first topic `topic` in blocks `from_block` to
        `to_block`; RpcBadAnswer for one that is not of that filter, or was removed."""
        method = "eth_getLogs"
        flt = {"address": "0x" + address.hex(), "topics": ["0x" + topic.hex()],
               "fromBlock": hex(from_block), "toBlock": hex(to_block)}  # fmt: skip
        found = self.request(method, [flt])
        if not isinstance(found, list):
            raise RpcBadAnswer(self.url, method, "the answer is not a list")
        try:
            logs = read_logs(method, found)
        except MalformedAnswer as exc:
            where = exc.what.removeprefix(method).lstrip()
            raise RpcBadAnswer(self.url, method, f"{where}: {exc.problem}") from None
        for log in logs:
            if log.removed:
                raise RpcBadAnswer(self.url, method, "a removed log (a reorganised block)")
            if log.address != address or log.topics[:1] != (topic,):
                other = f"a log of 0x{log.address.hex()}, or of another event, than asked for"
                raise RpcBadAnswer(self.url, method, other)
            if not from_block <= log.block_number <= to_block:
                other = f"a log of block {log.block_number}, outside {from_block}..{to_block}"
                raise RpcBadAnswer(self.url, method, other)
        return logs
