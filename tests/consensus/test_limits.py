"""A proposal at every consensus maximum fits the bound the node derives its caps from,
and a WAL holding the largest proposal reads back after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus.engine_config import EngineConfig
from consensus.inputs import BlockPrepared, ProposalReceived
from consensus.messages import decode_message, encode_message
from consensus.records import decode_record, encode_input_record
from consensus.types import (
    MAX_BLOCK_ENVELOPE_BYTES,
    TX_FRAME_BYTES,
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    DuplicateVoteEvidence,
    Proposal,
    Vote,
    VoteType,
    compute_max_proposal_bytes,
)
from consensus.wal import MAX_RECORD_BYTES, FileWalStorage, Wal, WalRecordTooLarge
from records.codec import MAX_CHAIN_ID_BYTES, MAX_EVIDENCE_PER_BLOCK, MAX_INT64, MAX_VALIDATORS

HASH = b"\xff" * 32
KEY = b"\xee" * 32
SIGNATURE = b"\xdd" * 64
MAX_ROUND = 2**31  # the decoders' round bound


def build_vote(index: int) -> Vote:
    return Vote(
        VoteType.PRECOMMIT, MAX_INT64, MAX_ROUND, HASH, index.to_bytes(32, "big"), SIGNATURE
    )


def build_largest_proposal(txs: tuple[bytes, ...]) -> Proposal:
    """Every field at its largest encoding: chain id, heights, a commit of MAX_VALIDATORS
    signatures, MAX_EVIDENCE_PER_BLOCK evidence."""
    commit = CommitCertificate(
        MAX_INT64, MAX_ROUND, HASH, tuple(CommitSig(KEY, SIGNATURE) for _ in range(MAX_VALIDATORS))
    )
    evidence = tuple(
        DuplicateVoteEvidence(build_vote(i), build_vote(i)) for i in range(MAX_EVIDENCE_PER_BLOCK)
    )
    header = BlockHeader(
        "x" * MAX_CHAIN_ID_BYTES, MAX_INT64, MAX_INT64, HASH, b"\xff" * 64, HASH, KEY, HASH, HASH
    )
    return Proposal(
        MAX_INT64, MAX_ROUND, MAX_ROUND, Block(header, txs, commit, evidence), KEY, SIGNATURE
    )


def test_largest_envelope_fits_its_bound() -> None:
    txs = (b"\x01" * 70_000,) * 3
    size = len(encode_message(build_largest_proposal(txs)))
    assert size <= compute_max_proposal_bytes(sum(map(len, txs)), len(txs))
    assert size - sum(map(len, txs)) - len(txs) * TX_FRAME_BYTES <= MAX_BLOCK_ENVELOPE_BYTES


def test_block_with_large_transactions_decodes() -> None:
    # the operator's 71,197-byte batch: consensus caps whole messages, not transactions
    proposal = build_largest_proposal((b"\x02" * 71_197,))
    decoded = decode_message(encode_message(proposal))
    assert isinstance(decoded, Proposal)
    assert decoded.block.txs == proposal.block.txs


def test_wal_with_largest_proposal_replays_after_restart(tmp_path: Path) -> None:
    block_bytes = 8 * 1024 * 1024
    txs = (b"\x03" * (block_bytes // 2), b"\x04" * (block_bytes // 2))
    proposal = build_largest_proposal(txs)
    records = [
        encode_input_record(
            BlockPrepared(MAX_INT64, MAX_ROUND, MAX_INT64, txs, proposal.block.evidence)
        ),
        encode_input_record(ProposalReceived(proposal, MAX_INT64)),
    ]
    wal = Wal(FileWalStorage(tmp_path / "consensus.wal"))
    for record in records:
        wal.append(record, sync=True)
    wal.storage.close()  # type: ignore[attr-defined]

    reopened = Wal(FileWalStorage(tmp_path / "consensus.wal"))
    replayed = [decode_record(r)[1] for r in reopened.records]
    assert replayed[0].txs == txs
    assert replayed[1].proposal.block.txs == txs


def test_wal_refuses_a_record_it_could_not_read_back(tmp_path: Path) -> None:
    wal = Wal(FileWalStorage(tmp_path / "consensus.wal"))
    with pytest.raises(WalRecordTooLarge) as refused:
        wal.append(b"\x00" * (MAX_RECORD_BYTES + 1))
    assert (refused.value.size, refused.value.limit) == (MAX_RECORD_BYTES + 1, MAX_RECORD_BYTES)
    assert wal.storage.read_all() == b""


def test_engine_refuses_block_limits_whose_proposals_no_node_could_decode() -> None:
    with pytest.raises(ValueError, match="over the 67108864 message cap"):
        EngineConfig(max_block_bytes=64 * 1024 * 1024, max_block_txs=1)
    EngineConfig(max_block_bytes=8 * 1024 * 1024, max_block_txs=20_000)


def test_a_prepared_block_over_the_limits_is_cut_to_the_prefix_within_both() -> None:
    config = EngineConfig(max_block_bytes=10, max_block_txs=3)
    assert config.fit_block([b"abc", b"def", b"ghi", b"j"]) == (b"abc", b"def", b"ghi")
    assert config.fit_block([b"abcd", b"efgh", b"ijk", b"l"]) == (b"abcd", b"efgh")
    assert config.fit_block([b"x" * 11, b"a"]) == ()  # a prefix: nothing after a misfit
    assert config.fit_block([b"ab", b"cd"]) == (b"ab", b"cd")
