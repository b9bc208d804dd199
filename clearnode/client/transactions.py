"""Transactions over plain JSON-RPC, without web3: signed by eth-account, sent through
`JsonRpc` (clearnode/client/jsonrpc.py). What deposits and relaying are made of
(clearnode/client/vault.py).

`send_transaction` estimates the gas (a revert there is `TransactionReverted`, decoded
against the contract's ABI, and nothing is sent), gives it bridge/abi.py's headroom,
takes the sender's next nonce (its pending transactions counted), prices it by EIP-1559
(a fee cap of twice the latest base fee plus the node's suggested tip) or, on a chain
whose blocks carry no base fee, by the legacy gas price, signs it for the chain's id,
sends it (`eth_sendRawTransaction`), then waits for its receipt: `TransactionReverted`
if mined with status 0, `TransactionDropped` once the node no longer has it or the nonce
went to another transaction, `TransactionPending` if it is still unmined after
`timeout_s`. A JSON-RPC failure is the reader's (`RpcRefused`: insufficient funds, a
nonce taken; `RpcUnreachable`...). `submit_transaction` and `wait_for_receipt` are its
two halves.

Synchronous (httpx.Client), as web3.py's calls are: from async code run it in a worker
thread (`anyio.to_thread.run_sync`, `asyncio.to_thread`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from bridge.abi import Abi, add_gas_headroom, decode_error
from clearnode.client.errors import (
    RpcBadAnswer,
    RpcRefused,
    TransactionDropped,
    TransactionPending,
    TransactionReverted,
)
from clearnode.client.jsonrpc import JsonRpc

RECEIPT_TIMEOUT_S = 120.0
"""How long `send_transaction` waits for a receipt (a few blocks of any chain)."""
POLL_FIRST_S, POLL_MAX_S = 0.05, 1.0
"""The receipt is polled (plain HTTP JSON-RPC pushes nothing), first soon after sending,
as a dev chain mines at once, then less often, up to once a second."""
UNKNOWN_POLLS = 3
"""Polls in a row at which the node must not know the transaction before it counts as
dropped: a node behind a load balancer may not see at once what another one took."""
REVERT_CODE = 3
"""The JSON-RPC error code of a call that reverted (geth, anvil, erigon...)."""


@dataclass(frozen=True)
class Receipt:
    """A transaction mined with status 1: its hash (0x-hex), block and gas used."""

    tx_hash: str
    block_number: int
    gas_used: int


@dataclass(frozen=True)
class SentTransaction:
    """A signed transaction the node took, not yet seen mined: what waiting for it needs
    (and replaying it, should it revert)."""

    tx_hash: str
    sender: str
    nonce: int
    to: bytes
    data: bytes
    value: int
    gas: int


def send_transaction(
    rpc: JsonRpc,
    sender: LocalAccount,
    to: bytes,
    data: bytes,
    value: int = 0,
    abi: Abi = (),
    timeout_s: float = RECEIPT_TIMEOUT_S,
) -> Receipt:
    """Call the contract at `to` with `data` (and `value` of the native coin) from
    `sender`, who pays the gas; the receipt once mined. `abi`, the contract's, names the
    error of a revert."""
    sent = submit_transaction(rpc, sender, to, data, value, abi)
    return wait_for_receipt(rpc, sent, abi, timeout_s)


def submit_transaction(
    rpc: JsonRpc, sender: LocalAccount, to: bytes, data: bytes, value: int = 0, abi: Abi = ()
) -> SentTransaction:
    """Estimate, price, sign and send the call; the transaction as the node took it."""
    call = {"from": sender.address, "to": "0x" + to.hex(), "data": "0x" + data.hex(),
            "value": hex(value)}  # fmt: skip
    gas = add_gas_headroom(estimate_gas(rpc, call, abi))
    nonce = rpc.quantity("eth_getTransactionCount", [sender.address, "pending"])
    tx: dict[str, Any] = {"chainId": rpc.chain_id, "nonce": nonce, "to": to_checksum_address(to),
                          "value": value, "data": data, "gas": gas, **get_fees(rpc)}  # fmt: skip
    signed = sender.sign_transaction(tx)
    tx_hash = "0x" + bytes(signed.hash).hex()
    method = "eth_sendRawTransaction"
    answered = rpc.request(method, ["0x" + bytes(signed.raw_transaction).hex()])
    if not isinstance(answered, str) or answered.lower() != tx_hash:
        raise RpcBadAnswer(rpc.url, method, f"answered hash {answered!r}, not {tx_hash}")
    return SentTransaction(tx_hash, sender.address, nonce, to, data, value, gas)


def estimate_gas(rpc: JsonRpc, call: dict[str, str], abi: Abi) -> int:
    """The gas `call` takes on the latest state; TransactionReverted if it reverts."""
    try:
        return rpc.quantity("eth_estimateGas", [call])
    except RpcRefused as exc:
        if not is_revert(exc):
            raise
        raise get_reverted(bytes.fromhex(call["to"][2:]), abi, exc.data or b"") from None


def is_revert(refused: RpcRefused) -> bool:
    """Whether a node's refusal of a call says the call reverted (as opposed to, say,
    the sender lacking the funds for its gas)."""
    return refused.code == REVERT_CODE or "revert" in refused.message.lower()


def get_reverted(to: bytes, abi: Abi, data: bytes, **mined: Any) -> TransactionReverted:
    """The revert of a call of `to` with revert `data`, its error named by `abi`."""
    error, args = decode_error(abi, data) or ("", ())
    return TransactionReverted(to, error, args, data, **mined)


def get_fees(rpc: JsonRpc) -> dict[str, int]:
    """The fee fields of a transaction sent now: EIP-1559's where the latest block has a
    base fee (a cap of twice it, so that the transaction stays includable through a few
    full blocks, plus the tip), else the legacy gas price."""
    method = "eth_getBlockByNumber"
    block = rpc.request(method, ["latest", False])
    if not isinstance(block, dict):
        raise RpcBadAnswer(rpc.url, method, "no latest block")
    if block.get("baseFeePerGas") is None:
        return {"gasPrice": rpc.quantity("eth_gasPrice", [])}
    base_fee = rpc.read_quantity(method, block["baseFeePerGas"])
    tip = rpc.quantity("eth_maxPriorityFeePerGas", [])
    return {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}


def wait_for_receipt(
    rpc: JsonRpc, sent: SentTransaction, abi: Abi = (), timeout_s: float = RECEIPT_TIMEOUT_S
) -> Receipt:
    """`sent`'s receipt once mined with status 1; TransactionReverted (status 0),
    TransactionDropped or TransactionPending (still unmined after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    delay, unknown = POLL_FIRST_S, 0
    while True:
        found = rpc.request("eth_getTransactionReceipt", [sent.tx_hash])
        if found is not None:
            return read_receipt(rpc, sent, found, abi)
        if rpc.request("eth_getTransactionByHash", [sent.tx_hash]) is None:
            unknown += 1
            mined_nonce = rpc.quantity("eth_getTransactionCount", [sent.sender, "latest"])
            if mined_nonce > sent.nonce or unknown >= UNKNOWN_POLLS:
                # mined between the two reads, if the node learnt of it meanwhile
                found = rpc.request("eth_getTransactionReceipt", [sent.tx_hash])
                if found is not None:
                    return read_receipt(rpc, sent, found, abi)
                raise TransactionDropped(sent.tx_hash, sent.nonce, mined_nonce)
        else:
            unknown = 0
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransactionPending(sent.tx_hash, sent.nonce, timeout_s)
        time.sleep(min(delay, left))
        delay = min(2 * delay, POLL_MAX_S)


def read_receipt(rpc: JsonRpc, sent: SentTransaction, found: Any, abi: Abi) -> Receipt:
    """The receipt the node answered for `sent`, checked; a status 0 replayed for its
    reason."""
    method = "eth_getTransactionReceipt"
    if not isinstance(found, dict) or str(found.get("transactionHash")).lower() != sent.tx_hash:
        raise RpcBadAnswer(rpc.url, method, f"not the receipt of {sent.tx_hash}")
    block = rpc.read_quantity(method, found.get("blockNumber"))
    gas_used = rpc.read_quantity(method, found.get("gasUsed"))
    status = rpc.read_quantity(method, found.get("status"))
    if status == 1:
        return Receipt(sent.tx_hash, block, gas_used)
    mined = {"tx_hash": sent.tx_hash, "nonce": sent.nonce, "block": block,
             "gas_used": gas_used, "gas_limit": sent.gas}  # fmt: skip
    call = {"from": sent.sender, "to": "0x" + sent.to.hex(), "data": "0x" + sent.data.hex(),
            "value": hex(sent.value), "gas": hex(sent.gas)}  # fmt: skip
    try:
        rpc.request("eth_call", [call, hex(block)])
    except RpcRefused as exc:
        if is_revert(exc):
            raise get_reverted(sent.to, abi, exc.data or b"", **mined) from None
        raise
    # it succeeds on the state after its block: out of gas, or a state since changed
    raise get_reverted(sent.to, abi, b"", **mined)
