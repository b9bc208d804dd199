"""Real libp2p hosts (TCP + Noise + yamux) on 127.0.0.1 in one trio run."""

from __future__ import annotations

import logging
import socket

import msgpack
import pytest
import trio
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2

from node.p2p import (
    MessageTooLarge,
    Offence,
    P2PNode,
    RequestFailed,
    ScoreParams,
    UnknownTopic,
    open_p2p,
)
from node.p2p.connections import close_peer
from node.p2p.library import TCP_CONNECT_S, route_library_logs
from node.p2p.peer_links import FAILED_DIALS_WARNED
from tests.node.p2p.support import (
    MAX_NOTE,
    TOPICS,
    config,
    line,
    note,
    peer_id_of,
    receive,
    run_host_until,
)


async def test_gossip_flows_both_ways_and_is_relayed() -> None:
    async with line("a", "b", "c") as (a, b, c):
        await a.publish("tx", note("from a"))
        assert await receive(b, "tx") == (a.peer_id, "from a")
        assert await receive(c, "tx") == (a.peer_id, "from a")
        await c.publish("prices", note("from c"))
        assert await receive(a, "prices") == (c.peer_id, "from c")
        assert await receive(b, "prices") == (c.peer_id, "from c")


async def test_bytes_sent_are_counted_by_topic_and_protocol() -> None:
    async def serve(peer: str, request: bytes) -> bytes:
        return request * 3

    async with line("a", "b", "c") as (a, b, c):
        text = "x" * 300
        await a.publish("tx", note(text))
        assert await receive(c, "tx") == (a.peer_id, text)
        b.set_request_handler("/clearnode/test/1", serve, max_request_bytes=64)
        assert await a.request(b.peer_id, "/clearnode/test/1", b"hey", 64, 64) == b"heyheyhey"
    assert a.sent_bytes["tx"] > len(note(text)) and b.sent_bytes["tx"] > len(note(text))
    assert c.sent_bytes["tx"] == 0  # the end of the line relays to nobody
    assert a.sent_bytes["/clearnode/test/1"] == 4 + 3 and b.sent_bytes["/clearnode/test/1"] == 4 + 9
    assert a.sent_bytes["control"] > 0  # its subscriptions, GRAFTs


async def test_invalid_message_stops_at_first_hop_and_costs_the_sender() -> None:
    async with line("a", "b", "c") as (a, b, c):
        await a.publish("tx", msgpack.packb([2, "from the future"]))
        await a.publish("tx", b"\xc1 not msgpack")
        await a.publish("tx", note("good"))
        assert await receive(b, "tx") == (a.peer_id, "good")
        assert await receive(c, "tx") == (a.peer_id, "good")
        assert b.scores.get_score(a.peer_id) == 1 - 2 * Offence.INVALID.penalty
        assert c.scores.get_score(b.peer_id) == 1
        assert b.counters["tx", "rejected"] == 2
        assert c.counters["tx", "delivered"] == 1


async def test_a_stale_message_stops_at_first_hop_and_costs_nobody() -> None:
    async with line("a", "b", "c") as (a, b, c):
        await a.publish("tx", msgpack.packb([0, "an old note"]))
        await a.publish("tx", note("good"))
        assert await receive(b, "tx") == (a.peer_id, "good")
        assert await receive(c, "tx") == (a.peer_id, "good")
        assert b.scores.get_score(a.peer_id) == 1  # the good note only
        assert (b.counters["tx", "ignored"], b.counters["tx", "rejected"]) == (1, 0)
        assert c.counters["tx", "ignored"] == 0  # not relayed
        stale = rpc_pb2.Message(
            from_id=a._host.get_id().to_bytes(), seqno=b"\x01" * 8,
            data=msgpack.packb([0, "again"]), topicIDs=["tx"],
        )  # fmt: skip
        for _ in range(3):  # re-delivered by every honest forwarder after a restart
            assert b._gossip.validate(a._host.get_id(), stale) is False
        assert b.scores.get_score(a.peer_id) == 1
        assert (b.counters["tx", "ignored"], b.counters["tx", "rejected_again"]) == (2, 2)


async def test_a_refused_message_delivered_again_costs_its_forwarder_once() -> None:
    async with line("a", "b") as (a, b):
        # py-libp2p marks only accepted messages seen, so peers re-send a refused one.
        refused = rpc_pb2.Message(
            from_id=a._host.get_id().to_bytes(), seqno=b"\x00" * 8, data=b"\xc1 not msgpack",
            topicIDs=["tx"],
        )  # fmt: skip
        for _ in range(4):
            assert b._gossip.validate(a._host.get_id(), refused) is False
        assert b.scores.get_score(a.peer_id) == -Offence.INVALID.penalty
        assert (b.counters["tx", "rejected"], b.counters["tx", "rejected_again"]) == (1, 3)


async def test_oversized_message_is_refused_locally_and_remotely() -> None:
    async with line("a", "b", "c") as (a, b, c):
        with pytest.raises(MessageTooLarge) as err:
            await a.publish("tx", note("x" * MAX_NOTE))
        assert err.value.limit == MAX_NOTE
        with pytest.raises(UnknownTopic):
            await a.publish("consensus", note("x"))
        # A hostile peer skips our own check and publishes through the library.
        await a._pubsub.publish("tx", note("x" * MAX_NOTE))
        await a.publish("tx", note("after"))
        assert await receive(b, "tx") == (a.peer_id, "after")
        assert await receive(c, "tx") == (a.peer_id, "after")
        assert b.scores.get_score(a.peer_id) == 1 - Offence.OVERSIZED.penalty


async def echo(peer: str, request: bytes) -> bytes:
    return request


async def wait_disconnected(node: P2PNode, peer: str) -> None:
    with trio.fail_after(10):
        while peer in node.connected_peers():
            await node.watch.changed.wait()


async def test_repeat_offender_is_banned_refused_and_forgiven_after_the_ban(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """b bans a for garbage; a's re-dials are closed and its requests unanswered while the
    ban lasts; once it expires a reconnects and gossips again."""
    caplog.set_level(logging.INFO, logger="node.p2p.door")
    async with line("a", "b", scores=ScoreParams(ban_at=-50, ban_s=2)) as (a, b):
        b.set_request_handler("/clearnode/echo/1", echo, max_request_bytes=64)
        for i in range(3):
            await a.publish("tx", msgpack.packb([9, i]))
        await wait_disconnected(b, a.peer_id)
        assert b.is_banned(a.peer_id)
        assert b.scores.get_score(a.peer_id) <= -50
        with trio.fail_after(10):
            while b.counters["connections", "refused"] == 0:
                try:
                    await a.connect(b.listen_addrs()[0])
                except RequestFailed:
                    pass
                with pytest.raises(RequestFailed):
                    await a.request(b.peer_id, "/clearnode/echo/1", b"hi", 64, 64)
        await wait_disconnected(b, a.peer_id)
        with trio.fail_after(10):
            while b.is_banned(a.peer_id):  # expiry notifies the watch
                await b.watch.changed.wait()
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert f"banning peer {a.peer_id} for 2s until " in logged
        assert "offence INVALID took its score to -50 (ban at -50)" in logged
        assert f"ban of peer {a.peer_id} ended; " in logged
        assert b.counters["peers", "banned"] == 1
        # a's last re-dial during the ban may still look open from a's side: b closed it,
        # and on a loaded machine a notices a moment later
        await wait_disconnected(a, b.peer_id)
        await a.connect(b.listen_addrs()[0])
        assert await a.request(b.peer_id, "/clearnode/echo/1", b"back", 64, 64) == b"back"
        assert a.peer_id in b.connected_peers()
        await a.wait_for_mesh("tx", 1)
        await b.wait_for_mesh("tx", 1)
        await a.publish("tx", note("forgiven"))
        assert await receive(b, "tx") == (a.peer_id, "forgiven")


class StuckQueue:
    """A peer queue that does not drain (its sending loop ended at a failed write, or the
    peer reads slower than we write) until `length` is set."""

    length = 32

    def __len__(self) -> int:
        return self.length


async def test_a_stuck_peer_queue_delays_one_publish_until_it_drains() -> None:
    async with line("a", "b", publish_wait_s=0.2) as (a, b):
        stuck = StuckQueue()
        a._pubsub.peer_queues["ghost"] = stuck  # type: ignore[index]
        with trio.fail_after(5):
            await a.publish("tx", note("still out"))
        assert await receive(b, "tx") == (a.peer_id, "still out")
        assert a.counters["tx", "publish_wait_expired"] == 1

        # the peer lags: it holds no publish back while its queue stays long ...
        started = trio.current_time()
        for i in range(5):
            await a.publish("tx", note(f"unhindered {i}"))
        assert trio.current_time() - started < 0.2
        assert a.counters["tx", "publish_wait_expired"] == 1
        # ... and waits are for it again once it has drained and falls behind anew
        stuck.length = 0
        await a.publish("tx", note("drained"))
        stuck.length = 32
        await a.publish("tx", note("behind again"))
        assert a.counters["tx", "publish_wait_expired"] == 2


async def test_request_round_trip_with_a_large_response() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB: many 64 KiB chunks

    async def serve(peer: str, request: bytes) -> bytes:
        return request + big

    async with line("a", "b") as (a, b):
        b.set_request_handler("/clearnode/test/1", serve, max_request_bytes=64)
        response = await a.request(b.peer_id, "/clearnode/test/1", b"hi", 64, len(big) + 2)
        assert response == b"hi" + big
        with pytest.raises(RequestFailed) as err:
            await a.request(b.peer_id, "/clearnode/test/1", b"hi", 64, 1024)
        assert "exceeds the cap" in err.value.reason
        with pytest.raises(RequestFailed):
            await a.request(b.peer_id, "/clearnode/unknown/1", b"hi", 64, 64)


async def test_oversized_request_is_refused_by_the_server() -> None:
    async def serve(peer: str, request: bytes) -> bytes:
        return b"never"

    async with line("a", "b") as (a, b):
        b.set_request_handler("/clearnode/test/1", serve, max_request_bytes=8)
        with pytest.raises(RequestFailed) as err:
            await a.request(b.peer_id, "/clearnode/test/1", b"x" * 9, 64, 64)
        assert "without a response" in err.value.reason
        assert b.scores.get_score(a.peer_id) == -Offence.OVERSIZED.penalty


async def test_persistent_peer_is_redialled_after_a_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """And its link's state is shown: up, then down with the dial's error (said once at
    warning after a few failed dials, the library's handshake errors not at all), then up."""
    caplog.set_level(logging.INFO, logger="node.p2p.peer_links")
    fast = {"backoff_base_s": 0.05, "backoff_cap_s": 0.2}
    async with trio.open_nursery() as nursery:
        stop_a = trio.Event()
        a = await nursery.start(run_host_until, config("a"), stop_a)
        addr = a.listen_addrs()[0]
        port = int(addr.split("/tcp/")[1].split("/")[0])
        async with open_p2p(config("b", persistent_peers=(addr,), **fast), TOPICS) as b:
            await b.wait_for_mesh("tx", 1)
            await a.wait_for_mesh("tx", 1)
            (link,) = b.peer_links.get_view()
            assert (link["peer"], link["address"], link["connected"]) == (a.peer_id, addr, True)
            await a.publish("tx", note("before"))
            assert await receive(b, "tx") == (a.peer_id, "before")
            stop_a.set()
            with trio.fail_after(10):
                while a.peer_id in b.connected_peers():
                    await b.watch.changed.wait()
                while b.peer_links.get_view()[0]["failed_dials"] < FAILED_DIALS_WARNED + 2:
                    await trio.sleep(0.05)
            (link,) = b.peer_links.get_view()
            assert link["connected"] is False and "Connection refused" in str(link["last_error"])
            warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
            (warning,) = [r.getMessage() for r in warnings if "cannot be reached" in r.getMessage()]
            assert (
                warning.startswith(
                    f"persistent peer {a.peer_id} at {addr} (libp2p) cannot be reached "
                    f"({FAILED_DIALS_WARNED} dials failed, the last: "
                )
                and "Connection refused" in warning
            ), warning
            assert not [r for r in warnings if r.name.startswith("libp2p")]
            again = await nursery.start(run_host_until, config("a", listen_port=port), trio.Event())
            await again.wait_for_mesh("tx", 1)
            await b.wait_for_mesh("tx", 1)
            (link,) = b.peer_links.get_view()
            assert link["connected"] is True and link["failed_dials"] == 0
            assert any("connected after" in r.getMessage() for r in caplog.records)
            await again.publish("tx", note("after"))
            assert await receive(b, "tx") == (a.peer_id, "after")
            await b.publish("tx", note("back"))
            assert await receive(again, "tx") == (b.peer_id, "back")
            nursery.cancel_scope.cancel()


async def test_a_dial_no_host_answers_gives_up_and_is_tried_again_within_seconds() -> None:
    """A listener whose accept queue is full drops each SYN, as a link that is down does:
    a dial gives up after TCP_CONNECT_S instead of waiting on the kernel's resends (up to
    a minute apart), and the next is tried within `unanswered_backoff_cap_s`."""
    with socket.socket() as deaf:
        deaf.bind(("127.0.0.1", 0))
        deaf.listen(0)
        queued = socket.create_connection(deaf.getsockname())  # the queue's one place
        addr = f"/ip4/127.0.0.1/tcp/{deaf.getsockname()[1]}/p2p/{peer_id_of('deaf')}"
        b_cfg = config("b", persistent_peers=(addr,), backoff_base_s=5.0)
        started = trio.current_time()
        async with open_p2p(b_cfg, TOPICS) as b:
            # two dials and one pause: at the 5 s cap of other failures, 9 s
            with trio.fail_after(2 * TCP_CONNECT_S + b_cfg.unanswered_backoff_cap_s + 2.5):
                while b.peer_links.get_view()[0]["failed_dials"] < 2:
                    await trio.sleep(0.05)
            (link,) = b.peer_links.get_view()
        queued.close()
    assert link["last_error"] == f"TcpNoAnswer: no answer from {addr} within {TCP_CONNECT_S} s"
    assert trio.current_time() - started >= 2 * TCP_CONNECT_S


async def test_the_callers_own_failure_comes_out_of_the_host_block() -> None:
    """A node task failing inside the block (with the node's nursery open, as in
    the runtime) ends the host and surfaces as itself, not as a library stop."""

    async def fail_soon() -> None:
        await trio.sleep(0.2)
        raise ValueError("a node task failed")

    with pytest.RaisesGroup(ValueError, flatten_subgroups=True):
        async with open_p2p(config("a"), TOPICS), trio.open_nursery() as nursery:
            nursery.start_soon(fail_soon)
            await trio.sleep_forever()


async def test_each_offence_is_logged_by_its_own_name(caplog: pytest.LogCaptureFixture) -> None:
    async with line("a", "b") as (a, b):
        with caplog.at_level(logging.INFO, logger="node.p2p.door"):
            for offence in Offence:
                b.penalize(a.peer_id, offence)
        logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("peer ")]
        assert [line.split("offence ")[1].split(":")[0] for line in logged] == [
            o.name for o in Offence
        ]


async def test_a_closed_connection_still_registered_is_redialled() -> None:
    """py-libp2p can keep a connection the other side closed registered for seconds
    (seen after a ban: the 2-in-6 failure of the test above under load); `connect` must
    dial afresh instead of taking it for a connection, and the redial loop must see it."""
    async with line("a", "b") as (a, b):
        b.set_request_handler("/clearnode/echo/1", echo, max_request_bytes=64)
        stale = a._host.get_network().get_connections(ID.from_base58(b.peer_id))[0]
        stale.event_closed.set()  # the state found: closed, still in swarm.connections
        assert b.peer_id not in a.connected_peers()
        await a.connect(b.listen_addrs()[0])
        assert a.counters["connections", "stale_dropped"] == 1
        assert await a.request(b.peer_id, "/clearnode/echo/1", b"fresh", 64, 64) == b"fresh"
        assert b.peer_id in a.connected_peers()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_peers_that_keep_each_other_connected_meet_again_when_a_ban_ends() -> None:
    """b bans a for 2 s; a's redials are refused and back off instead of hammering b with
    handshakes; within a few seconds of the ban's end both are connected and gossip."""
    scores = ScoreParams(ban_at=-50, ban_s=2)
    a_port = free_port()
    a_addr = f"/ip4/127.0.0.1/tcp/{a_port}/p2p/{peer_id_of('a')}"
    async with open_p2p(config("b", scores=scores, persistent_peers=(a_addr,)), TOPICS) as b:
        a_cfg = config("a", listen_port=a_port, persistent_peers=(b.listen_addrs()[0],))
        async with open_p2p(a_cfg, TOPICS) as a:
            await b.wait_for_mesh("tx", 1)
            b.penalize(a.peer_id, Offence.OVERSIZED)
            ends = trio.current_time() + scores.ban_s
            await wait_disconnected(b, a.peer_id)
            while b.is_banned(a.peer_id):
                await b.watch.changed.wait()
            # 0.2 s doubling backoff plus the 0.5 s check: a handful of tries in 2 s
            assert b.counters["connections", "refused"] <= 6
            with trio.fail_after(3):
                while a.peer_id not in b.connected_peers() or b.peer_id not in a.connected_peers():
                    await trio.sleep(0.05)
                await b.wait_for_mesh("tx", 1)
                await a.wait_for_mesh("tx", 1)
            assert trio.current_time() - ends < 3
            await a.publish("tx", note("back"))
            assert await receive(b, "tx") == (a.peer_id, "back")


async def test_requests_to_a_peer_that_banned_us_do_not_dial_it() -> None:
    """Only `keep_connected` dials, with backoff: a request to an unconnected peer fails at
    once instead of opening a connection the banning peer must refuse each time."""
    async with line("a", "b", scores=ScoreParams(ban_at=-50, ban_s=30)) as (a, b):
        b.set_request_handler("/clearnode/echo/1", echo, max_request_bytes=64)
        for i in range(3):
            await a.publish("tx", msgpack.packb([9, i]))
        await wait_disconnected(b, a.peer_id)
        refused = b.counters["connections", "refused"]
        for _ in range(20):
            with pytest.raises(RequestFailed, match="not connected"):
                await a.request(b.peer_id, "/clearnode/echo/1", b"hi", 64, 64)
        assert b.counters["connections", "refused"] == refused  # no dial reached b
        assert a.counters["requests", "not_connected"] == 20


async def test_a_second_host_on_a_port_in_use_does_not_listen_beside_the_first() -> None:
    """py-libp2p listens with SO_REUSEPORT; ours do not: the kernel refuses the second
    bind instead of splitting the port's inbound connections between two hosts."""
    async with open_p2p(config("a"), TOPICS) as a:
        port = int(a.listen_addrs()[0].split("/")[4])
        async with open_p2p(config("b", listen_port=port), TOPICS) as b:
            assert b.listen_addrs() == []
        async with open_p2p(config("c"), TOPICS) as c:  # a's port still answers a's peer id
            assert await c.connect(a.listen_addrs()[0]) == a.peer_id


def test_the_librarys_failed_handshake_lines_are_dropped_and_its_other_errors_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A peer restarting fails a few handshakes: py-libp2p logged each at error level; the
    redial hears the same failure (and reports a peer that stays unreachable)."""
    route_library_logs()
    swarm = logging.getLogger("libp2p.network.swarm")
    swarm.error("failed to upgrade security for peer %s: %s", "12D3KooW", "handshake failed")
    swarm.error("fail to upgrade mux for peer %s", "12D3KooW")
    swarm.error("Error in background prune: %s", "boom")
    assert [r.getMessage() for r in caplog.records] == ["Error in background prune: boom"]


async def test_a_peer_is_dialled_at_the_address_given_not_at_those_its_records_gave() -> None:
    """Its gossip's signed records put b's own listen address in a's peer store; a dial of b
    at another address (a link's, through a proxy or a tunnel) must not fall back to it."""
    async with line("a", "b") as (a, b):
        peer = ID.from_base58(b.peer_id)
        assert b.listen_addrs()[0] in [str(x) for x in a._host.get_peerstore().addrs(peer)]
        await close_peer(a._host, peer)
        with trio.fail_after(5):
            while b.peer_id in a.connected_peers():
                await trio.sleep(0.02)
        with pytest.raises(RequestFailed):
            await a.connect(f"/ip4/127.0.0.1/tcp/{free_port()}/p2p/{b.peer_id}")
        assert b.peer_id not in a.connected_peers()
