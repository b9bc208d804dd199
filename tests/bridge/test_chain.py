"""The chain adapter's raw calls: a node's error object is an RpcError, an answer of
another shape a MalformedAnswer, never a KeyError."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from web3 import Web3

from bridge.chain import Chain
from bridge.chain_answers import MalformedAnswer, RpcError


class Answering:
    """A provider whose every answer is `answer` (given the batch's calls, for batches)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def make_request(self, method: str, params: list[Any]) -> Any:
        return self.answer

    def make_batch_request(self, calls: list[tuple[str, list[Any]]]) -> Any:
        return self.answer(calls) if callable(self.answer) else self.answer


def chain_answering(answer: Any) -> Chain:
    return Chain("http://node", 1, cast(Web3, SimpleNamespace(provider=Answering(answer))))


@pytest.mark.parametrize(
    ("answer", "error", "says"),
    [
        ({"id": 1, "error": {"code": -32000, "message": "header not found"}}, RpcError,
         "error -32000: header not found"),
        ({"id": 1, "error": "busy"}, RpcError, "error -1: busy"),
        ({"id": 1, "error": {"code": "x", "message": 7}}, RpcError, "error -1: 7"),
        ({"id": 1}, MalformedAnswer, "eth_blockNumber: the answer has no result"),
        ([], MalformedAnswer, "eth_blockNumber: the answer has no result"),
    ],
)  # fmt: skip
def test_a_call_s_error_or_missing_result_is_typed(
    answer: object, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        chain_answering(answer).request("eth_blockNumber", [])


def test_a_block_number_that_is_not_hex_is_malformed() -> None:
    with pytest.raises(MalformedAnswer) as caught:
        chain_answering({"id": 1, "result": {"number": "latest"}}).get_block_number()
    assert caught.value.what == "eth_getBlockByNumber latest: number"
    with pytest.raises(MalformedAnswer, match="'0x2a' is not a block"):
        chain_answering({"id": 1, "result": "0x2a"}).get_block_number()
    with pytest.raises(RpcError, match="no finalized block"):
        chain_answering({"id": 1, "result": None}).get_block_number("finalized")


def test_a_batch_s_answers_are_matched_to_its_calls_or_refused() -> None:
    calls = [("eth_getBlockByNumber", ["0x1", False]), ("eth_getBlockByNumber", ["0x2", False])]
    reversed_ids = [{"id": 8, "result": "second"}, {"id": 7, "result": "first"}]
    assert chain_answering(reversed_ids).batch_request(calls) == ["first", "second"]
    for answer, says in [
        ([{"id": 7, "result": "first"}], "1 answers to 2 calls"),
        ([{"id": 7, "result": "first"}, "x"], "1 answers to 2 calls"),
        ([{"id": 7, "result": "a"}, {"id": 8}], "eth_getBlockByNumber: the answer has no result"),
        ("nonsense", "str is not a list of answers"),
    ]:
        with pytest.raises(MalformedAnswer, match=says):
            chain_answering(answer).batch_request(calls)
    with pytest.raises(RpcError, match="error 429: slow down"):
        chain_answering({"error": {"code": 429, "message": "slow down"}}).batch_request(calls)
