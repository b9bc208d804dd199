"""Fetching the transactions a compact proposal names, over real libp2p hosts: asked of
the publisher first, then of the other peers for what is still missing, the next one
also when the last is slow to answer; an answer that is not the transaction asked for
is refused and scored down."""

from __future__ import annotations

import pytest
import trio

from consensus.compact import compute_tx_hash
from node.p2p import HostConfig, P2PNode
from node.p2p.txfetch import (
    PROTOCOL,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    fetch_txs,
    serve_txs,
)
from records.codec import DecodeError
from tests.node.p2p.support import line

TXS = [b"batch %d " % i * 100 for i in range(6)]


def serve(node: P2PNode, txs: list[bytes]) -> None:
    held = {compute_tx_hash(tx): tx for tx in txs}
    serve_txs(node, held.get)


async def test_what_the_first_peer_lacks_is_asked_of_the_next() -> None:
    async with line("b", "a", "c") as (b, a, c):
        serve(b, TXS[:2])
        serve(c, TXS[1:5])
        ids = [compute_tx_hash(tx) for tx in TXS]
        found = await fetch_txs(a, [b.peer_id, c.peer_id], ids)
        assert sorted(found) == sorted(TXS[:5])
        assert await fetch_txs(a, [c.peer_id, b.peer_id], ids[:1]) == TXS[:1]
        assert await fetch_txs(a, ["not-a-peer", b.peer_id], ids[1:2]) == TXS[1:2]
        assert await fetch_txs(a, [b.peer_id], ids[5:]) == []
        assert a.scores.get_score(b.peer_id) >= 0 and a.scores.get_score(c.peer_id) >= 0


async def test_a_peer_slow_to_answer_is_not_waited_for_alone() -> None:
    """The first peer, behind a stalled link, holds its ask; the next one is asked once
    the hedge passed, and its answer ends the fetch (the stalled ask cancelled)."""
    asked_of_c: list[list[bytes]] = []

    async def stall(peer: str, request: bytes) -> bytes:
        await trio.sleep(60)
        return encode_response([None for _ in decode_request(request)])

    async def answer(peer: str, request: bytes) -> bytes:
        asked_of_c.append(ids := decode_request(request))
        return encode_response([held.get(i) for i in ids])

    held = {compute_tx_hash(tx): tx for tx in TXS}
    async with line("b", "a", "c") as (b, a, c):
        b.set_request_handler(PROTOCOL, stall, 1 << 20)
        c.set_request_handler(PROTOCOL, answer, 1 << 20)
        ids = [compute_tx_hash(tx) for tx in TXS[:3]]
        with trio.fail_after(HostConfig.request_timeout_s / 2):  # not its timeout's end
            found = await fetch_txs(a, [b.peer_id, c.peer_id], ids, hedge_s=0.2)
        assert sorted(found) == sorted(TXS[:3])
        assert asked_of_c == [ids]
        assert a.scores.get_score(b.peer_id) >= 0


async def test_a_peer_that_answers_all_within_the_hedge_is_the_only_one_asked() -> None:
    async with line("b", "a", "c") as (b, a, c):
        serve(b, TXS)
        asked_of_c: list[bytes] = []

        async def count(peer: str, request: bytes) -> bytes:
            asked_of_c.append(request)
            return encode_response([None for _ in decode_request(request)])

        c.set_request_handler(PROTOCOL, count, 1 << 20)
        ids = [compute_tx_hash(tx) for tx in TXS]
        assert sorted(await fetch_txs(a, [b.peer_id, c.peer_id], ids, hedge_s=30)) == sorted(TXS)
        assert asked_of_c == []


async def test_a_peer_answering_another_transaction_is_refused_and_scored_down() -> None:
    async def lie(peer: str, request: bytes) -> bytes:
        return encode_response([b"something else" for _ in decode_request(request)])

    async with line("a", "b", "c") as (a, b, c):
        a.set_request_handler(PROTOCOL, lie, 1 << 20)
        serve(c, TXS)
        before = b.scores.get_score(a.peer_id)
        found = await fetch_txs(b, [a.peer_id, c.peer_id], [compute_tx_hash(TXS[3])])
        assert found == [TXS[3]]
        assert b.scores.get_score(a.peer_id) < before


def test_ids_are_the_mempools_hashes_and_answers_keep_their_places() -> None:
    ids = [compute_tx_hash(tx) for tx in TXS[:3]]
    assert ids[0] == compute_tx_hash(TXS[0])
    assert decode_request(encode_request(ids)) == ids
    assert decode_response(encode_response([TXS[0], None, TXS[2]]), ids) == [TXS[0], TXS[2]]
    with pytest.raises(DecodeError, match="answer 1 is not the transaction asked"):
        decode_response(encode_response([TXS[0], TXS[0], None]), ids)
    with pytest.raises(DecodeError, match="2 answers to 3 ids"):
        decode_response(encode_response([None, None]), ids)
    with pytest.raises(DecodeError, match="not 32 bytes"):
        decode_request(encode_request([b"short"]))
