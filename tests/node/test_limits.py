"""Every node cap derives from the protocol table and carries what it must."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearing.genesis import parse_genesis
from clearing.limits import (
    MAX_BLOCK_BYTES,
    MAX_BLOCK_TXS,
    MAX_PROPOSER_TXS_BYTES,
    MAX_TRADES_PER_BATCH,
    MAX_TX_BYTES,
)
from consensus.wal import MAX_RECORD_BYTES
from node.clearing_app import ClearingApp
from node.config import ApiConfig, MempoolConfig
from node.engine.driver import DriverConfig
from node.limits import MAX_API_BODY_BYTES, MAX_JSON_REQUEST_BYTES, MAX_PROPOSAL_BYTES
from node.mempool import Mempool, TxTooLarge
from node.p2p.blocksync import MAX_RESPONSE_BYTES
from node.p2p.topics import CONSENSUS, TX, get_topic
from records.codec import MAX_CONSENSUS_MESSAGE_BYTES
from tests.clearing.support import genesis_doc

GENESIS_MS = 1_795_219_200_000


def test_a_full_proposal_fits_gossip_wal_and_sync() -> None:
    assert get_topic(CONSENSUS).max_bytes >= MAX_PROPOSAL_BYTES
    assert MAX_PROPOSAL_BYTES <= MAX_CONSENSUS_MESSAGE_BYTES
    assert MAX_PROPOSAL_BYTES <= MAX_RECORD_BYTES
    # a block and its commit certificate, plus the response's own framing slack
    assert MAX_RESPONSE_BYTES - 1024 >= MAX_PROPOSAL_BYTES


def test_the_node_proposes_only_blocks_the_caps_carry() -> None:
    engine = DriverConfig(chain_id="test").get_engine_config()
    assert (engine.max_block_bytes, engine.max_block_txs) == (MAX_BLOCK_BYTES, MAX_BLOCK_TXS)


def test_the_largest_transaction_fits_every_admission_cap() -> None:
    assert get_topic(TX).max_bytes >= MAX_TX_BYTES
    assert MempoolConfig().max_tx_bytes == MAX_TX_BYTES
    body = json.dumps({"tx": "0x" + (b"\xff" * MAX_TX_BYTES).hex()}, indent=2).encode()
    assert len(body) <= ApiConfig().max_body_bytes == MAX_API_BODY_BYTES


def test_mempool_refuses_one_byte_too_many_naming_the_limit() -> None:
    pool = Mempool(check=lambda tx: None)
    with pytest.raises(TxTooLarge, match=f"{MAX_TX_BYTES + 1} bytes exceeds the {MAX_TX_BYTES}"):
        pool.add(b"\x00" * (MAX_TX_BYTES + 1))
    assert len(pool) == 0


def test_proposer_txs_leave_room_for_the_largest_transaction() -> None:
    app = ClearingApp(parse_genesis(genesis_doc()))
    own = [b"\x01" * (MAX_PROPOSER_TXS_BYTES // 2)] * 3  # more than its budget
    app.add_proposal_source(lambda height, time_ms: own)
    largest = b"\x02" * MAX_TX_BYTES
    chosen = app.prepare_proposal(1, GENESIS_MS, [largest])
    assert chosen == [*own[:2], largest]
    assert sum(map(len, chosen)) <= MAX_BLOCK_BYTES


def test_operator_guide_states_the_limits_the_code_applies() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "operator.md").read_text()
    table = guide.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for value in (
        MAX_TX_BYTES, MAX_BLOCK_BYTES, MAX_PROPOSER_TXS_BYTES, MAX_PROPOSAL_BYTES,
        MAX_RESPONSE_BYTES, MAX_RECORD_BYTES, MAX_API_BODY_BYTES, MAX_JSON_REQUEST_BYTES,
    ):  # fmt: skip
        assert f"{value:,}" in table, value
    assert f"{MAX_BLOCK_TXS:,}" in table
    venue = (Path(__file__).parents[2] / "docs" / "venue.md").read_text()
    assert f"1 to {MAX_TRADES_PER_BATCH:,} trades" in venue
