"""A chain node's logs, headers and receipts read with their shapes checked: anything
else is a MalformedAnswer naming the field and what was there."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.chain_answers import (
    ChainBlock,
    MalformedAnswer,
    read_header,
    read_log,
    read_logs,
    read_receipt,
)
from bridge.deposits import DEPOSITED_TOPIC, decode_deposit_log
from bridge.payouts import WITHDRAWN_TOPIC, decode_withdrawn_log

VAULT = bytes([0xAA]) * 20
TX = bytes([0x77]) * 32


def make_log(**fields: Any) -> dict[str, Any]:
    """A Deposited log as a node sends it (member 0x11.., token 0x22.., nonce 5)."""
    log = {
        "address": "0x" + VAULT.hex(),
        "topics": ["0x" + t.hex() for t in (DEPOSITED_TOPIC, bytes(12) + bytes([0x11]) * 20,
                                             bytes(12) + bytes([0x22]) * 20, (5).to_bytes(32))],
        "data": "0x" + (1_000).to_bytes(32).hex() + (3).to_bytes(32).hex(),
        "blockNumber": "0x2a",
        "blockHash": "0x" + "cd" * 32,
        "transactionHash": "0x" + TX.hex(),
        "logIndex": "0x1",
        "removed": False,
    }  # fmt: skip
    log.update(fields)
    return {k: v for k, v in log.items() if v is not ...}


def test_a_well_formed_log_reads_and_decodes_as_the_deposit_it_is() -> None:
    (log,) = read_logs("eth_getLogs", [make_log()])
    assert (log.block_ref, log.tx_hash, log.log_index, log.removed) == (
        (42, bytes([0xCD]) * 32), TX, 1, False
    )  # fmt: skip
    deposit = decode_deposit_log(31337, log, 1_700_000_000)
    assert (deposit.vault, deposit.member, deposit.token) == (
        VAULT, bytes([0x11]) * 20, bytes([0x22]) * 20
    )  # fmt: skip
    assert (deposit.amount, deposit.sub_account, deposit.deposit_nonce) == (1_000, 3, 5)
    assert read_log("x", make_log(removed=...)).removed is False  # nodes may leave it out


@pytest.mark.parametrize(
    ("fields", "field", "found"),
    [
        ({"blockNumber": ...}, "blockNumber", "None is not a hex number"),
        ({"blockNumber": "0x"}, "blockNumber", "'0x' is not a hex number"),
        ({"blockNumber": 42}, "blockNumber", "42 is not a hex number"),
        ({"logIndex": "0x-1"}, "logIndex", "'0x-1' is not a hex number"),
        ({"logIndex": "0x1_0"}, "logIndex", "'0x1_0' is not a hex number"),
        ({"blockHash": "0x" + "cd" * 31}, "blockHash", "is 31 bytes, not 32"),
        ({"address": "0xzz"}, "address", "'0xzz' is not hex data"),
        ({"data": None}, "data", "None is not hex data"),
        ({"transactionHash": ...}, "transactionHash", "None is not hex data"),
        ({"topics": ["0x01"]}, "topic", "'0x01' is 1 bytes, not 32"),
        ({"removed": "yes"}, "removed", "'yes' is not a boolean"),
    ],
)
def test_a_log_field_of_another_shape_is_named(
    fields: dict[str, Any], field: str, found: str
) -> None:
    with pytest.raises(MalformedAnswer) as caught:
        read_logs("eth_getLogs", [make_log(), make_log(**fields)])
    assert caught.value.what == f"eth_getLogs log 1: {field}"
    assert found in caught.value.problem


@pytest.mark.parametrize("answer", [None, {"logs": []}, "0x", [None], [{"topics": "0x"}]])
def test_an_answer_that_is_not_a_list_of_logs_is_malformed(answer: object) -> None:
    with pytest.raises(MalformedAnswer) as caught:
        read_logs("eth_getLogs", answer)
    assert caught.value.what.startswith("eth_getLogs")


def test_a_quoted_value_is_cut_short() -> None:
    with pytest.raises(MalformedAnswer) as caught:
        read_logs("eth_getLogs", [make_log(data="0x" + "z" * 10_000_000)])
    assert len(str(caught.value)) < 200 and "..." in str(caught.value)


def test_a_log_of_the_vault_without_its_events_topics_or_data_is_malformed() -> None:
    short = read_log("x", make_log(topics=["0x" + DEPOSITED_TOPIC.hex()]))
    with pytest.raises(MalformedAnswer, match=r"a Deposited log .* 1 topics"):
        decode_deposit_log(31337, short, 0)
    thin = read_log("x", make_log(data="0x" + bytes(32).hex()))
    with pytest.raises(MalformedAnswer, match="data of 32 bytes"):
        decode_deposit_log(31337, thin, 0)
    withdrawn = read_log("x", make_log(topics=["0x" + WITHDRAWN_TOPIC.hex()] * 3))
    with pytest.raises(MalformedAnswer, match=r"a Withdrawn log .* 3 topics"):
        decode_withdrawn_log(31337, withdrawn, 0)


def test_headers_and_receipts_read_or_name_their_field() -> None:
    header = {"hash": "0x" + "ab" * 32, "timestamp": "0x10", "number": "0x7"}
    assert read_header(7, header) == ChainBlock(bytes([0xAB]) * 32, 16)
    with pytest.raises(MalformedAnswer) as caught:
        read_header(7, {**header, "timestamp": None})
    assert caught.value.what == "eth_getBlockByNumber 7: timestamp"
    receipt = {"status": "0x1", "blockNumber": "0x2a", "blockHash": "0x" + "cd" * 32,
               "logs": [make_log()]}  # fmt: skip
    read = read_receipt(TX, receipt)
    assert (read.succeeded, read.block_number, len(read.logs)) == (True, 42, 1)
    assert not read_receipt(TX, {**receipt, "status": "0x0"}).succeeded
    for broken in ({**receipt, "status": ...}, {**receipt, "logs": None}, []):
        with pytest.raises(MalformedAnswer) as caught:
            read_receipt(
                TX, {k: v for k, v in broken.items() if v is not ...} if broken else broken
            )
        assert caught.value.what.startswith(f"eth_getTransactionReceipt 0x{TX.hex()}")
