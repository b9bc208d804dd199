"""Wire formats, proposer rotation, WAL corruption, signer guard, evidence and sync."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from consensus.compact import make_compact
from consensus.evidence import EvidencePool, is_valid_duplicate_vote
from consensus.inputs import ProposalReceived
from consensus.messages import decode_message, encode_message
from consensus.records import WAL_KIND_INPUT, decode_record, encode_input_record
from consensus.signer import DoubleSignRefused, Signer
from consensus.sync import SyncRejected, verify_synced_block
from consensus.types import (
    ZERO_HASH,
    Block,
    BlockHeader,
    DuplicateVoteEvidence,
    ValidatorSet,
    Vote,
    Voter,
    VoteType,
    compute_commit_certificate,
)
from consensus.wal import FileWalStorage, Wal, WalCorrupted
from records.codec import MAX_EVIDENCE_AGE_BLOCKS, DecodeError
from tests.consensus.helpers import (
    CHAIN,
    KEYS,
    VALIDATORS,
    make_block,
    make_equivocation,
    signed_proposal,
    signed_vote,
)


def test_messages_roundtrip() -> None:
    block = make_block((b"a", b"b"), KEYS[0].public_key)
    for msg in (
        signed_vote(0, VoteType.PREVOTE, 0, None),
        signed_proposal(0, block),
    ):
        assert decode_message(encode_message(msg)) == msg


def test_a_received_proposal_keeps_its_arrival_time_in_the_wal() -> None:
    """A replay judges it as it was judged; a record from before the time was kept
    decodes without one (not judged)."""
    proposal = signed_proposal(0, make_block((b"a",), KEYS[0].public_key))
    for received in (ProposalReceived(proposal, 1_234), ProposalReceived(proposal)):
        assert decode_record(encode_input_record(received)) == (WAL_KIND_INPUT, received)


def test_proposals_and_votes_keep_their_wire_kinds() -> None:
    """[version 1, kind, payload]: 1 a proposal, 2 a vote, as before kinds 3 to 5 went;
    6 a compact proposal."""
    proposal = signed_proposal(0, make_block((), KEYS[0].public_key))
    assert encode_message(proposal)[:3] == b"\x93\x01\x01"
    assert encode_message(signed_vote(0, VoteType.PREVOTE, 0, None))[:3] == b"\x93\x01\x02"
    compact = make_compact(proposal, lambda tx_id: True)
    assert encode_message(compact)[:3] == b"\x93\x01\x06"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\xc1", "message"),
        (b"\x93\x02\x01\x90", "message"),
        (b"\x93\x01\x02\x90", "Vote"),
        *((bytes([0x93, 0x01, kind, 0x90]), "message.kind") for kind in (0, 3, 4, 5, 7)),
    ],
)
def test_bad_bytes_raise_decode_error(data: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_message(data)
    assert info.value.what == field


def test_weighted_round_robin_proposer_frequency() -> None:
    keys = KEYS[:3]
    vs = ValidatorSet.from_validators(
        [
            Voter(f"v{i}", k.public_key, p)
            for i, (k, p) in enumerate(zip(keys, (1, 2, 3), strict=True))
        ]
    )
    counts = {k.public_key: 0 for k in keys}
    for _ in range(600):
        counts[vs.proposer.public_key] += 1
        vs = vs.next_height()
    assert [counts[k.public_key] for k in keys] == [100, 200, 300]


def test_wal_corrupted_tail_refused_then_repaired(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    wal = Wal(FileWalStorage(path))
    wal.append(b"one", sync=True)
    wal.append(b"two", sync=True)
    good = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b"\x00\x00\x00\x09garbage")
    with pytest.raises(WalCorrupted) as info:
        Wal(FileWalStorage(path))
    assert info.value.offset == good and str(path) in str(info.value)
    repaired = Wal(FileWalStorage(path), repair=True)
    assert repaired.records == [b"one", b"two"] and path.stat().st_size == good


def test_signer_refuses_double_sign_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    signer = Signer(KEYS[0], CHAIN, Wal(FileWalStorage(path)))
    vote = Vote(VoteType.PREVOTE, 1, 0, b"\x01" * 32, KEYS[0].public_key)
    first = signer.sign_vote(vote)
    restarted = Signer(KEYS[0], CHAIN, Wal(FileWalStorage(path)))
    assert restarted.sign_vote(vote) == first
    with pytest.raises(DoubleSignRefused):
        restarted.sign_vote(Vote(VoteType.PREVOTE, 1, 0, None, KEYS[0].public_key))
    restarted.sign_vote(Vote(VoteType.PRECOMMIT, 1, 0, None, KEYS[0].public_key))
    with pytest.raises(DoubleSignRefused):
        restarted.sign_vote(Vote(VoteType.PREVOTE, 1, 0, b"\x02" * 32, KEYS[0].public_key))


def test_duplicate_vote_evidence_verifies_and_encodes() -> None:
    ev = DuplicateVoteEvidence.from_votes(
        signed_vote(1, VoteType.PREVOTE, 0, None), signed_vote(1, VoteType.PREVOTE, 0, b"\x01" * 32)
    )
    assert is_valid_duplicate_vote(CHAIN, VALIDATORS, ev)
    assert DuplicateVoteEvidence.from_fields(ev.to_fields()) == ev
    same = DuplicateVoteEvidence.from_votes(ev.vote_a, ev.vote_a)
    assert not is_valid_duplicate_vote(CHAIN, VALIDATORS, same)


def test_sync_verifies_certificate_and_parent() -> None:
    block = make_block((b"a",), KEYS[0].public_key)
    votes = {
        KEYS[i].public_key: signed_vote(i, VoteType.PRECOMMIT, 0, block.hash) for i in range(3)
    }
    cert = compute_commit_certificate(1, 0, block.hash, votes)
    verify_synced_block(CHAIN, VALIDATORS, 1, ZERO_HASH, block, cert)
    weak = compute_commit_certificate(1, 0, block.hash, dict(list(votes.items())[:2]))
    with pytest.raises(SyncRejected, match="no quorum"):
        verify_synced_block(CHAIN, VALIDATORS, 1, ZERO_HASH, block, weak)
    with pytest.raises(SyncRejected, match="does not extend"):
        verify_synced_block(CHAIN, VALIDATORS, 1, b"\x05" * 32, block, cert)


def test_an_updated_set_keeps_priorities_and_queues_a_new_validator_last() -> None:
    """CometBFT's update: who stays keeps its priority; a joiner starts at -1.125 x total,
    so it proposes only after the validators already queued; the rotation stays fair."""
    three = [Voter(f"v{i}", k.public_key, 1) for i, k in enumerate(KEYS[:3])]
    vs = ValidatorSet.from_validators(three).next_height()
    joined = vs.compute_updated((*three, Voter("v3", KEYS[3].public_key, 1)))
    assert joined.priorities[:3] != (0, 0, 0) and joined.priorities[3] < min(joined.priorities[:3])
    assert joined.proposer.public_key != KEYS[3].public_key
    proposers = []
    for _ in range(400):
        proposers.append(joined.proposer.public_key)
        joined = joined.next_height()
    assert KEYS[3].public_key not in proposers[:3]
    counts = [proposers.count(k.public_key) for k in KEYS]
    assert max(counts) - min(counts) <= 2, counts
    assert vs.compute_updated(tuple(three[:2])).validators == tuple(three[:2])
    with pytest.raises(ValueError, match=r"1\.\.1000"):
        vs.compute_updated(())


def test_evidence_is_committable_for_max_evidence_age_blocks_then_dropped() -> None:
    evidence = make_equivocation()
    pool = EvidencePool()
    pool.add(evidence)
    assert pool.get_pending(1) == ()
    assert pool.get_pending(2) == pool.get_pending(1 + MAX_EVIDENCE_AGE_BLOCKS) == (evidence,)
    assert pool.get_pending(2 + MAX_EVIDENCE_AGE_BLOCKS) == ()
    last = Block(
        BlockHeader(CHAIN, MAX_EVIDENCE_AGE_BLOCKS, 1, ZERO_HASH, b"", ZERO_HASH, ZERO_HASH),
        (),
        None,
    )
    pool.process_committed_block(last)
    assert evidence.hash in pool.pending
    pool.process_committed_block(
        replace(last, header=replace(last.header, height=MAX_EVIDENCE_AGE_BLOCKS + 1))
    )
    assert pool.pending == {}
