"""Repair fetches over real libp2p hosts: a proposal asked of a voter, a commit
certificate of a peer that moved on; the peer answers what it holds, nil what it does
not; an answer that is not what was asked is refused and scored down; each outcome is
counted for the operator."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.compact import make_compact
from consensus.messages import encode_message
from consensus.types import CommitCertificate, CommitSig, VoteType
from node.engine.repair_fetch import (
    COMMIT_SCOPE,
    PROPOSAL_SCOPE,
    decode_commit_response,
    decode_proposal_response,
    decode_request,
    encode_request,
    encode_response,
    fetch_commit,
    fetch_proposal,
    serve_repairs,
)
from node.p2p import P2PNode
from records.codec import DecodeError
from tests.consensus.helpers import KEYS, make_block, signed_proposal, signed_vote
from tests.node.p2p.support import line

PROPOSAL = signed_proposal(0, make_block((b"batch",), KEYS[0].public_key))
COMPACT = make_compact(PROPOSAL, lambda tx_id: True)
COMMIT = CommitCertificate(
    1, 0, PROPOSAL.block.hash, tuple(CommitSig(k.public_key, bytes(64)) for k in KEYS[:3])
)


def serve(
    node: P2PNode,
    proposals: dict[tuple[int, int], bytes],
    commits: dict[int, CommitCertificate] | None = None,
) -> None:
    held = commits or {}
    serve_repairs(node, lambda height, round_: proposals.get((height, round_)), held.get)


async def test_a_peer_answers_what_it_holds_and_nil_for_what_it_does_not() -> None:
    async with line("peer", "asker") as (peer, asker):
        serve(peer, {(1, 0): encode_message(COMPACT)}, {1: COMMIT})
        assert await fetch_proposal(asker, peer.peer_id, 1, 0) == COMPACT
        assert await fetch_proposal(asker, peer.peer_id, 1, 1) is None
        assert await fetch_proposal(asker, "not-a-peer", 1, 0) is None
        assert await fetch_commit(asker, peer.peer_id, 1) == COMMIT
        assert await fetch_commit(asker, peer.peer_id, 2) is None
        assert asker.counters[PROPOSAL_SCOPE, "received"] == 1
        assert asker.counters[PROPOSAL_SCOPE, "not_held"] == 1
        assert asker.counters[PROPOSAL_SCOPE, "failed"] == 1
        assert asker.counters[COMMIT_SCOPE, "received"] == 1
        assert asker.counters[COMMIT_SCOPE, "not_held"] == 1
        assert asker.scores.get_score(peer.peer_id) >= 0


@pytest.mark.parametrize(
    "answer",
    [
        encode_message(signed_vote(1, VoteType.PREVOTE, 0, PROPOSAL.block.hash)),
        encode_message(signed_proposal(1, make_block((), KEYS[1].public_key))),
        b"not a message",
    ],
    ids=["a vote", "another round", "garbage"],
)
async def test_an_answer_that_is_not_the_proposal_asked_is_refused_and_scored_down(
    answer: bytes,
) -> None:
    async with line("liar", "asker") as (liar, asker):
        serve(liar, {(1, 0): answer}, {1: replace(COMMIT, height=2)})
        before = asker.scores.get_score(liar.peer_id)
        assert await fetch_proposal(asker, liar.peer_id, 1, 0) is None
        assert asker.scores.get_score(liar.peer_id) < before
        assert asker.counters[PROPOSAL_SCOPE, "bad_response"] == 1
        assert await fetch_commit(asker, liar.peer_id, 1) is None
        assert asker.counters[COMMIT_SCOPE, "bad_response"] == 1


def test_requests_and_answers_round_trip_and_are_checked() -> None:
    assert decode_request(encode_request(7, 3), "request", 2) == [7, 3]
    assert decode_proposal_response(encode_response(encode_message(PROPOSAL)), 1, 0) == PROPOSAL
    assert decode_proposal_response(encode_response(None), 1, 0) is None
    with pytest.raises(DecodeError, match="not of height 2 round 0"):
        decode_proposal_response(encode_response(encode_message(PROPOSAL)), 2, 0)
    with pytest.raises(DecodeError, match="not bytes"):
        decode_proposal_response(encode_response(7), 1, 0)
    assert decode_commit_response(encode_response(COMMIT.to_fields()), 1) == COMMIT
    with pytest.raises(DecodeError, match="the commit of height 1, not 2"):
        decode_commit_response(encode_response(COMMIT.to_fields()), 2)
    with pytest.raises(DecodeError):
        decode_commit_response(encode_response([1, 2]), 1)
    with pytest.raises(DecodeError):
        decode_request(encode_request(-1, 0), "request", 2)
    with pytest.raises(DecodeError):
        decode_request(encode_request(1), "request", 2)
