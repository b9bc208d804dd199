"""Node topics decode at the first hop: garbage, wrong kinds and wrong versions are typed
errors; the consensus publisher queues each waiting message once, sends fresh messages
ahead of re-sends and drops re-sends while a peer's queue is long."""

from __future__ import annotations

from collections import Counter

import msgpack
import pytest
import trio
import trio.testing

from consensus.messages import encode_message
from consensus.types import Vote, VoteType
from node.p2p.topics import (
    CONSENSUS,
    decode_consensus,
    decode_tx_gossip,
    get_topic,
    open_publisher,
)
from records.codec import DecodeError
from tests.node.test_network_inprocess import setup_txs


def test_votes_pass_and_the_retired_sync_kinds_are_refused_on_the_consensus_topic() -> None:
    vote = Vote(VoteType.PREVOTE, 3, 0, None, bytes(32), bytes(64))
    assert decode_consensus(encode_message(vote)) == vote
    for kind in (3, 4, 5):  # SyncRequest, SyncResponse and Status until 0.2.0
        with pytest.raises(DecodeError):
            decode_consensus(msgpack.packb([1, kind, [1, 3]]))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        msgpack.packb([2, 2, []]),
        msgpack.packb([1, 9, []]),
        msgpack.packb([1, 2, [1]]),
    ],
)
def test_malformed_consensus_messages_are_decode_errors(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_consensus(data)


def test_transactions_pass_and_garbage_is_a_decode_error() -> None:
    tx = setup_txs()[1][0]
    assert decode_tx_gossip(tx) == tx
    for data in (b"\xc1", msgpack.packb([1, 99]), msgpack.packb([7, 1, "x"])):
        with pytest.raises(DecodeError):
            decode_tx_gossip(data)


def test_every_rejection_is_declared_so_it_scores_the_sender() -> None:
    consensus, tx = get_topic("consensus"), get_topic("tx")
    assert issubclass(DecodeError, consensus.rejects)
    assert issubclass(DecodeError, tx.rejects)


class SlowPublisher:
    """A p2p node whose publishes wait until `opened` is set, congested while `congested`."""

    def __init__(self) -> None:
        self.counters: Counter[tuple[str, str]] = Counter()
        self.published: list[bytes] = []
        self.opened = trio.Event()
        self.congested = False

    async def publish(self, topic: str, data: bytes) -> None:
        await self.opened.wait()
        self.published.append(data)

    def is_congested(self) -> bool:
        return self.congested


async def test_a_message_already_waiting_to_be_published_is_not_queued_again() -> None:
    p2p = SlowPublisher()
    async with trio.open_nursery() as nursery:
        publisher = open_publisher(p2p, CONSENSUS, nursery)  # type: ignore[arg-type]
        publisher.broadcast(b"vote")
        await trio.testing.wait_all_tasks_blocked()  # the first is being sent
        for data in (b"proposal", b"vote", b"proposal", b"vote"):
            publisher.broadcast(data)
        publisher.rebroadcast(b"proposal")
        p2p.opened.set()
        await trio.testing.wait_all_tasks_blocked()
        assert p2p.published == [b"vote", b"proposal", b"vote"]
        assert p2p.counters[CONSENSUS, "already_queued"] == 3
        publisher.broadcast(b"proposal")  # sent already: queued again
        await trio.testing.wait_all_tasks_blocked()
        assert p2p.published[-1] == b"proposal"
        nursery.cancel_scope.cancel()


async def test_fresh_messages_go_ahead_of_resends_which_a_congested_link_drops() -> None:
    """A proposal signed while the node re-sends the height's older rounds leaves first;
    re-sends wait behind it and are dropped while a peer's queue is long."""
    p2p = SlowPublisher()
    async with trio.open_nursery() as nursery:
        publisher = open_publisher(p2p, CONSENSUS, nursery)  # type: ignore[arg-type]
        publisher.broadcast(b"vote-r0")
        await trio.testing.wait_all_tasks_blocked()  # being sent
        for data in (b"proposal-r0", b"vote-r0-peer", b"vote-r1"):
            publisher.rebroadcast(data)
        publisher.broadcast(b"proposal-r1")
        publisher.broadcast(b"vote-r1")  # waiting as a re-send: now sent as fresh
        p2p.opened.set()
        await trio.testing.wait_all_tasks_blocked()
        assert p2p.published == [
            b"vote-r0", b"proposal-r1", b"vote-r1", b"proposal-r0", b"vote-r0-peer"
        ]  # fmt: skip
        p2p.congested = True
        publisher.rebroadcast(b"proposal-r1")
        publisher.broadcast(b"precommit-r1")
        await trio.testing.wait_all_tasks_blocked()
        assert p2p.published[5:] == [b"precommit-r1"]
        assert p2p.counters[CONSENSUS, "resend_skipped"] == 1
        nursery.cancel_scope.cancel()
