"""A peer's signed peer record, carried by each of its gossip RPCs, is verified once:
again when it changes, when the peer store no longer holds what it stored, or after
`RECHECK_S`; a record the library refuses is refused every time."""

from __future__ import annotations

from typing import Any

import multiaddr
import pytest
from libp2p.peer.id import ID
from libp2p.peer.peerstore import create_signed_peer_record
from libp2p.pubsub import gossipsub as libp2p_gossipsub
from libp2p.pubsub import pubsub as libp2p_pubsub
from libp2p.pubsub.pb.rpc_pb2 import RPC

from node.p2p import peer_records
from node.p2p.library import build_host
from node.p2p.peer_records import consume_record_once
from tests.node.p2p.support import config


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What each of the library's own verifications answered."""
    answers: list[bool] = []
    library = peer_records.library_consume

    def consume(msg: RPC, host: Any, peer_id: ID) -> bool:
        answers.append(bool(library(msg, host, peer_id)))
        return answers[-1]

    monkeypatch.setattr(peer_records, "library_consume", consume)
    return answers


def record_rpc(host: Any) -> RPC:
    """An RPC carrying `host`'s signed peer record, as its gossip sends it (with an address:
    a peer store drops a record without any)."""
    addrs = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/4001")]
    record = create_signed_peer_record(host.get_id(), addrs, host.get_private_key())
    rpc = RPC()
    rpc.senderRecord = record.marshal_envelope()
    return rpc


def test_a_peers_record_is_verified_once_until_it_or_the_stored_one_changes(
    verified: list[bool],
) -> None:
    a, b, c = (build_host(config(name).key_seed, "yamux") for name in "abc")
    for module in (libp2p_pubsub, libp2p_gossipsub):  # where the library's gossip reads RPCs
        assert module.maybe_consume_signed_record is consume_record_once
    rpc = record_rpc(a)
    for _ in range(3):
        assert consume_record_once(rpc, b, a.get_id())
    assert consume_record_once(rpc, c, a.get_id())  # another host's store: its own check
    assert verified == [True, True]
    b.get_peerstore().peer_record_map.pop(a.get_id())  # the store let it go
    assert consume_record_once(rpc, b, a.get_id())
    assert consume_record_once(record_rpc(c), b, c.get_id())  # another peer
    assert verified == [True, True, True, True]
    for _ in range(2):
        assert not consume_record_once(rpc, b, c.get_id())  # a's record, said to be c's
    assert verified[4:] == [False, False]
    assert consume_record_once(RPC(), b, a.get_id())  # no record: nothing to check


def test_a_record_is_verified_again_after_the_recheck_time(
    verified: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = (build_host(config(name).key_seed, "yamux") for name in "ab")
    monkeypatch.setattr(peer_records, "RECHECK_S", 0.0)
    rpc = record_rpc(a)
    assert consume_record_once(rpc, b, a.get_id())
    assert consume_record_once(rpc, b, a.get_id())
    assert verified == [True, True]
