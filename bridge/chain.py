"""web3.py adapter for one EVM chain: pinned chain id, raw JSON-RPC, deploys, transactions.

Synchronous on purpose (HTTPProvider): trio code calls it through
`trio.to_thread.run_sync`, so a hung request never blocks the event loop and can be
abandoned by the caller's timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, TxParams, Wei

from bridge.abi import Abi, add_gas_headroom, decode_error
from bridge.chain_answers import (
    ChainError,
    MalformedAnswer,
    RpcError,
    read_error,
    read_quantity,
)
from bridge.compile import load_artifact
from bridge.rpc_values import parse_data, show


class ChainIdMismatch(ChainError):
    def __init__(self, url: str, expected: int, actual: int) -> None:
        super().__init__(f"{url} serves chain id {actual}, configured {expected}")
        self.url, self.expected, self.actual = url, expected, actual


class ContractReverted(ChainError):
    """A call or transaction reverted; `error` is the contract's custom error name."""

    def __init__(self, error: str, args: tuple[Any, ...], raw: str) -> None:
        super().__init__(f"reverted with {error}{args}")
        self.error, self.args_, self.raw = error, args, raw


class TransactionFailed(ContractReverted):
    """Mined with status 0 although its estimate succeeded: the state moved in between."""

    def __init__(self, tx_hash: str, gas_used: int, gas_limit: int) -> None:
        super().__init__("TransactionFailed", (gas_used, gas_limit), tx_hash)
        self.tx_hash, self.gas_used, self.gas_limit = tx_hash, gas_used, gas_limit


def decode_revert(abi: Abi, data: str) -> ContractReverted:
    """Turn revert data into a ContractReverted naming the error and its arguments."""
    try:
        raw = parse_data(data)
    except ValueError:  # a node's revert without data, or with data that is not hex
        raw = b""
    known = decode_error(abi, raw)
    if known is None:
        return ContractReverted("unknown", (), data if isinstance(data, str) else "")
    name, args = known
    return ContractReverted(name, args, data)


@dataclass
class Chain:
    """One connected chain whose id has been checked against configuration."""

    url: str
    chain_id: int
    w3: Web3

    def request(self, method: str, params: list[Any]) -> Any:
        """Raw JSON-RPC call (no result formatting: hex strings as the node sent them)."""
        response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if isinstance(response, dict) and "error" in response:
            raise read_error(method, response["error"])
        if not isinstance(response, dict) or "result" not in response:
            raise MalformedAnswer(method, "the answer has no result")
        return response["result"]

    def batch_request(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several JSON-RPC calls in one HTTP round trip; results in call order."""
        if not calls:
            return []
        provider = cast(JSONBaseProvider, self.w3.provider)  # connect() makes an HTTPProvider
        # JSON from the wire: its shape is checked here, not by web3's TypedDicts.
        responses: Any = provider.make_batch_request([(RPCEndpoint(m), p) for m, p in calls])
        if isinstance(responses, dict) and "error" in responses:
            raise read_error("batch", responses["error"])
        if not isinstance(responses, list):
            raise MalformedAnswer("batch", f"{type(responses).__name__} is not a list of answers")
        answers = [r for r in responses if isinstance(r, dict) and type(r.get("id")) is int]
        if len(answers) != len(calls):
            raise MalformedAnswer("batch", f"{len(answers)} answers to {len(calls)} calls")
        results = []  # the provider numbers a batch's calls in order
        for (method, _), response in zip(
            calls, sorted(answers, key=lambda r: r["id"]), strict=True
        ):
            if "error" in response:
                raise read_error(method, response["error"])
            if "result" not in response:
                raise MalformedAnswer(method, "the answer has no result")
            results.append(response["result"])
        return results

    def get_block_number(self, tag: str = "latest") -> int:
        """Number of the block a tag ("latest", "safe", "finalized") names."""
        block = self.request("eth_getBlockByNumber", [tag, False])
        if block is None:
            raise RpcError("eth_getBlockByNumber", -1, f"no {tag} block")
        if not isinstance(block, dict):
            raise MalformedAnswer("eth_getBlockByNumber", f"{show(block)} is not a block")
        return read_quantity(f"eth_getBlockByNumber {tag}", block.get("number"), "number")

    def contract(self, name: str, address: str) -> Contract:
        artifact = load_artifact(name)
        return self.w3.eth.contract(address=to_checksum_address(address), abi=artifact["abi"])

    def deploy(self, name: str, args: Sequence[Any], sender: LocalAccount) -> Contract:
        """Deploy the committed artifact `name` with constructor `args`; wait for the receipt."""
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self.transact(factory.constructor(*args), sender)
        return self.contract(name, receipt["contractAddress"])

    def transact(
        self, call: ContractFunction | Any, sender: LocalAccount, value: int = 0
    ) -> dict[str, Any]:
        """Sign locally, send, wait for the receipt; a revert raises ContractReverted."""
        # A function knows its contract's ABI (`contract_abi`); a constructor only `abi`.
        contract_abi = getattr(call, "contract_abi", None) or getattr(call, "abi", [])
        params: TxParams = {
            "from": sender.address,
            "value": Wei(value),
            "chainId": self.chain_id,
            "nonce": self.w3.eth.get_transaction_count(sender.address, "pending"),
        }
        try:
            tx: dict[str, Any] = dict(call.build_transaction(params))
        except ContractCustomError as exc:
            raise decode_revert(contract_abi, str(exc.data)) from None
        except ContractLogicError as exc:
            raise ContractReverted(str(exc.message), (), str(exc.data)) from None
        tx["gas"] = add_gas_headroom(int(tx["gas"]))
        signed = sender.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt: dict[str, Any] = dict(
            self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        )
        if receipt["status"] != 1:
            raise TransactionFailed(tx_hash.hex(), int(receipt["gasUsed"]), int(tx["gas"]))
        return receipt


def connect(url: str, expected_chain_id: int, timeout: float = 10.0) -> Chain:
    """Connect over HTTP and refuse a node serving another chain than configured."""
    # No provider-level retries: callers (the watcher) own backoff and reconnection.
    provider = Web3.HTTPProvider(
        url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
    )
    w3 = Web3(provider)
    chain = Chain(url=url, chain_id=expected_chain_id, w3=w3)
    try:
        actual = int(chain.request("eth_chainId", []), 16)
    except Web3RPCError as exc:
        raise RpcError("eth_chainId", -1, str(exc)) from None
    if actual != expected_chain_id:
        raise ChainIdMismatch(url, expected_chain_id, actual)
    return chain


def account_from_key(private_key: str | bytes) -> LocalAccount:
    account: LocalAccount = Account.from_key(private_key)
    return account
