"""The transactions of the proposals a node saw and the compact proposals waiting for some
(consensus/proposal_txs.py); the engine's use of them is in test_engine.py."""

from __future__ import annotations

from dataclasses import replace

from consensus.compact import compute_tx_hash, make_compact
from consensus.proposal_txs import MAX_AWAITING, ProposalTxs
from tests.consensus.helpers import KEYS, make_block, signed_proposal

TXS = (b"one", b"two", b"three")
PROPOSAL = signed_proposal(0, make_block(TXS, KEYS[0].public_key))
COMPACT = make_compact(PROPOSAL, lambda tx_id: True)  # every transaction by its id


def test_a_waiting_proposal_completes_when_its_transactions_come() -> None:
    txs = ProposalTxs()
    mempool = {compute_tx_hash(TXS[0]): TXS[0]}

    def get_tx(tx_id: bytes) -> bytes | None:
        return txs.get(tx_id) or mempool.get(tx_id)

    assert txs.wait(COMPACT, 7)
    missing = txs.get_missing((0, PROPOSAL.block.hash), get_tx)
    assert missing is not None and missing[0] == COMPACT
    assert set(missing[1]) == set(map(compute_tx_hash, TXS[1:]))
    assert txs.add([TXS[1], b"not asked for"], get_tx) == []
    assert txs.get(compute_tx_hash(b"not asked for")) is None
    assert txs.add([TXS[2]], get_tx) == [(COMPACT, PROPOSAL, 7)]
    assert txs.awaiting == {} and txs.get_missing((0, PROPOSAL.block.hash), get_tx) is None


def test_a_height_keeps_so_many_waiting_and_the_one_before_its_transactions() -> None:
    txs = ProposalTxs()
    for round_ in range(MAX_AWAITING):
        assert txs.wait(replace(COMPACT, round=round_), 0)
    assert not txs.wait(replace(COMPACT, round=MAX_AWAITING), 0)
    assert txs.wait(COMPACT, 0)  # already waiting: kept
    txs.hold(PROPOSAL)
    txs.start_height()
    assert txs.awaiting == {} and txs.get(compute_tx_hash(TXS[0])) == TXS[0]
    txs.start_height()
    assert txs.get(compute_tx_hash(TXS[0])) is None
