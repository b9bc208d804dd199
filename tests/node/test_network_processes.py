"""Four validator processes on loopback: trades commit, roots agree, crash and late join recover,
a validator stopped past the consensus timeouts resumes (the real CLI runs a network in
test_cli_walkthrough.py).

Set-up transactions (collateral credits, venue authorisations) enter through a
client libp2p host gossiping on the `tx` topic; venue trade batches are POSTed to
validators' HTTP APIs. Roots are read from each node's
SQLite file; the committed blocks are also replayed here through the clearing
app to check that every trade was cleared.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from clearing.genesis import parse_genesis
from clearing.transition.trade import TradeBatch
from clearing.transition.tx import decode_tx
from clearnode.client.sandbox_keys import derive_seed
from consensus.types import Block
from lightclient.anchor import COMETBFT
from node.clearing_app import ClearingApp
from node.keys import NODE_KEY, KeyFile, compute_peer_id
from node.p2p import HostConfig, P2PNode, open_p2p
from node.p2p.topics import TX, get_topic
from node.storage.comet_block import CometBlockRecord
from tests.node.netproc import SHORT_TIMEOUTS, NodeHome, process_network, read_blocks, read_rows
from tests.node.test_network_inprocess import setup_txs

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


async def wait_until(what: str, condition: Callable[[], bool], timeout_s: float = 60) -> None:
    """Polls another process's progress (its files), which no event of ours can signal."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await trio.sleep(0.2)


@dataclass(frozen=True)
class StoredBlock:
    """What either engine's node stores of a committed block that a test compares."""

    height: int
    hash: bytes
    txs: tuple[bytes, ...]


def read_stored_blocks(home: NodeHome) -> list[StoredBlock]:
    """The node's stored blocks, in order: our engine's whole blocks, or the records of
    CometBFT's that a node on CometBFT keeps."""
    rows = read_rows(home.db, "SELECT block FROM blocks ORDER BY height")
    if json.loads((home.path / "genesis.json").read_text()).get("engine") == COMETBFT:
        records = [CometBlockRecord.decode(row[0]) for row in rows]
        return [StoredBlock(r.height, r.block_hash, r.txs) for r in records]
    return [StoredBlock(b.height, b.hash, b.txs) for b in map(Block.decode, (r[0] for r in rows))]


def count_included(home: NodeHome, txs: list[bytes]) -> int:
    wanted = set(txs)
    try:
        return sum(1 for block in read_stored_blocks(home) for tx in block.txs if tx in wanted)
    except sqlite3.OperationalError:
        return 0


def assert_roots_agree(homes: list[NodeHome]) -> int:
    """Every height stored by two nodes has one root; returns the lowest tip."""
    roots = [home.get_roots() for home in homes]
    for height in set().union(*roots):
        seen = {r[height] for r in roots if height in r}
        assert len(seen) == 1, f"height {height}: {len(seen)} different state roots"
    return min(max(r, default=0) for r in roots)


def get_tip(home: NodeHome) -> int:
    """The node's latest stored height (a pruned node holds fewer blocks than that)."""
    return max(home.get_roots(), default=0)


def get_lowest_tip(homes: list[NodeHome]) -> int:
    return min(get_tip(home) for home in homes)


async def submit(client: P2PNode, txs: list[bytes]) -> None:
    for tx in txs:
        await client.publish(TX, tx)


CLIENT_SEED = derive_seed("client")
LATE = "late"
OBSERVERS = (compute_peer_id(KeyFile(NODE_KEY, CLIENT_SEED)), NodeHome(Path(), LATE, None).peer_id)
"""The client host gossiping transactions and the full node that joins late: the only
peers besides the validators' nodes the validators let in."""


async def commit_setup(validators: list[NodeHome], setup: list[bytes]) -> None:
    """Set-up transactions gossiped by a client host, once every validator commits."""
    client_config = HostConfig(
        CLIENT_SEED,
        persistent_peers=tuple(h.addr for h in validators),
        genesis_hash=validators[0].genesis_hash,
    )
    async with open_p2p(client_config, [get_topic(TX)]) as client:
        await wait_until("every validator to commit", lambda: assert_roots_agree(validators) >= 1)
        await client.wait_for_mesh(TX, 2)
        await submit(client, setup)
        await wait_until("setup to commit", lambda: count_included(validators[0], setup) == 8)


Answer = tuple[int | None, str]
"""A post's status and body (None: nothing listened)."""


async def post_until_accepted(what: str, post: Callable[[], Answer], timeout_s: float = 60) -> None:
    """Posts (`post`) until the node answers 202, as a client should: again while it
    answers 503 (block-syncing, or no commit within its stall limit: a loaded machine can
    stall a network whose fourth validator is down for that long) or nothing listens yet
    (a node starting). Any other answer fails the test, with the body."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status, body = await trio.to_thread.run_sync(post)
        except (urllib.error.URLError, ConnectionError, TimeoutError, httpx.TransportError) as exc:
            status, body = None, str(exc)
        if status == 202:
            return
        assert status in (None, 503), f"{what}: {status} {body}"
        assert time.monotonic() < deadline, f"{what}: {status} {body} for {timeout_s} s"
        await trio.sleep(0.2)


async def post_setup(validators: list[NodeHome], setup: list[bytes]) -> None:
    """`setup_txs`' set-up through the validators' HTTP APIs once every validator commits,
    as a bridge sends the credits and members' wallets their authorisations; returns once
    it committed (the client host of `commit_setup` needs our engine's gossip)."""
    credits, requests = setup[:4], setup[4:]
    await wait_until("every validator to commit", lambda: get_lowest_tip(validators) >= 1)
    for tx in credits:
        await post_tx_until_accepted(validators[0], "/v1/bridge/collateral-events", tx)
    for tx in requests:
        answer = partial(get_status_answer, validators[1].post_member_request, tx)
        await post_until_accepted("a member request", answer)
    await wait_until("setup to commit", lambda: count_included(validators[0], setup) == 8)


def get_status_answer(post: Callable[[bytes], int | None], tx: bytes) -> Answer:
    return post(tx), ""


async def post_tx_until_accepted(
    home: NodeHome, route: str, tx: bytes, what: str = "a transaction"
) -> None:
    """`post_until_accepted` of an encoded transaction to `home`'s `route`."""
    await post_until_accepted(f"{what} to {home.name}", lambda: home.post_tx_answer(route, tx))


def get_answer(response: httpx.Response) -> Answer:
    return response.status_code, response.text


async def post_batches(home: NodeHome, batches: list[bytes]) -> None:
    """Venue trade batches enter through a validator's HTTP API."""
    for batch in batches:
        await post_tx_until_accepted(home, "/v1/trade-batches", batch, "a trade batch")


SNAPSHOTS = "[storage]\nsnapshot_interval = 3\nsnapshots_kept = 2\n"
"""Snapshots (and WAL compactions) every 3 heights, so a restart uses both."""
BLOCKS_KEPT = 10


def prune_to(home: NodeHome, blocks_kept: int) -> None:
    """`home` keeps its newest `blocks_kept` blocks (its config has SNAPSHOTS' table)."""
    config = home.path / "config.toml"
    text = config.read_text().replace("snapshots_kept = 2\n", "snapshots_kept = 2\n"
                                      f"blocks_kept = {blocks_kept}\n")  # fmt: skip
    config.write_text(text)


def read_heights(home: NodeHome, table: str = "blocks") -> list[int]:
    """The heights of the node's stored blocks (or snapshots), read-only."""
    assert table in ("blocks", "snapshots")
    return [row[0] for row in read_rows(home.db, f"SELECT height FROM {table} ORDER BY height")]


async def test_trades_commit_and_nodes_recover_and_join(tmp_path: Path) -> None:
    setup, batches = setup_txs()
    # short timeouts: the heights v3, killed, was to propose fail sooner
    extra = SNAPSHOTS + SHORT_TIMEOUTS
    with process_network(tmp_path / "net", extra_config=extra, observers=OBSERVERS) as net:
        validators = list(net.homes)
        archive, pruned = validators[0], validators[1:]  # v0 keeps every block, the others 10
        for home in pruned:
            prune_to(home, BLOCKS_KEPT)
        await commit_setup(validators, setup)
        await post_batches(validators[0], batches[:1])
        await wait_until("a batch to commit", lambda: count_included(archive, batches) == 1)

        # kill -9 one validator; the other three (30 of 40 power) keep committing.
        crashed = validators[3]
        net.kill(crashed)
        crashed_tip = get_tip(crashed)
        await post_batches(validators[1], batches[1:2])
        await wait_until("a batch without v3", lambda: count_included(archive, batches) == 2)
        net.start(crashed)
        tip = get_tip(archive)
        await wait_until("v3 to catch up", lambda: get_tip(crashed) > tip)
        assert tip > crashed_tip
        restart_log = (crashed.path / "node.log").read_text()
        assert f"state at height {crashed_tip}: snapshot of height {crashed_tip // 3 * 3}" in (
            restart_log
        ), "the restart re-applied more than the blocks after the newest snapshot"

        # A full node joins late and syncs from height 1: from the archive node, as the
        # pruned ones hold no block below their window.
        late = net.add_full_node(tmp_path / "net", LATE)
        net.start(late)
        await post_batches(validators[2], batches[2:])
        await wait_until("the last batch", lambda: count_included(archive, batches) == 3)
        tip = get_tip(archive)
        # the late node syncs; every other node stores the tip too, maybe a moment after v0
        await wait_until("the late node to sync and every node to reach the tip",
                         lambda: get_lowest_tip(net.homes) >= tip)  # fmt: skip

        assert assert_roots_agree(net.homes) >= tip
        for home in net.homes:
            kept = read_heights(home, "snapshots")
            assert len(kept) == 2 and all(h % 3 == 0 for h in kept), (home.name, kept)
        assert read_heights(archive)[0] == 1
        # the chain runs on with empty blocks: each pruned node passes its first window
        await wait_until("the pruned nodes to prune", lambda: all(
            read_heights(h)[0] > 1 for h in pruned))  # fmt: skip
        for home in pruned:  # the window, up to a snapshot interval more, and nothing older
            held = read_heights(home)
            assert held[0] > 1 and len(held) <= BLOCKS_KEPT + 3, (home.name, held)
            storage = home.get_json("/v1/status")[1]["storage"]
            code, body = home.get_json("/v1/blocks/1")
            # the chain runs on: a snapshot may prune between these reads (every 3 blocks)
            after = read_heights(home)[0]
            assert storage["blocks_kept"] == BLOCKS_KEPT
            assert held[0] <= storage["first_height"] <= after, (held[0], storage, after)
            assert code == 410
            assert held[0] <= body["error"]["details"]["first_height"] <= after, body
            # inside its window it serves the chain's blocks, the archive node's (each with
            # its own node's certificate): the newest of the window, which no prune reaches
            # while they are read
            for height in read_heights(home)[-(BLOCKS_KEPT - 3) :]:
                code, served = home.get_json(f"/v1/blocks/{height}")
                assert code == 200 and served.pop("cert") != "0x", (home.name, height)
                expected = archive.get_json(f"/v1/blocks/{height}")[1]
                assert served == {k: v for k, v in expected.items() if k != "cert"}
        replay = ClearingApp(parse_genesis(net.genesis))  # with the nodes' peer ids
        roots = late.get_roots()  # first: the chain runs on, so the blocks read after hold more
        blocks = [b for b in read_blocks(late) if b.header.height in roots]
        assert [b.header.height for b in blocks] == sorted(roots)
        for block in blocks:
            height = block.header.height
            assert replay.finalize_block(block) == roots[height], f"height {height}"
        windows = replay.state.trade_windows.values()  # fewer ids than a window
        trades = 0
        for raw in batches:
            batch = decode_tx(raw)
            assert isinstance(batch, TradeBatch)
            trades += len(batch.trades)
        assert sum(int.from_bytes(w.bits, "little").bit_count() for w in windows) == trades


async def test_validator_stopped_past_the_timeouts_resumes_and_agrees(tmp_path: Path) -> None:
    setup, batches = setup_txs()
    with process_network(tmp_path / "net", extra_config=SHORT_TIMEOUTS, observers=OBSERVERS) as net:
        validators = list(net.homes)
        await commit_setup(validators, setup)

        # SIGSTOP: v3 keeps its sockets but misses every timeout and message, for longer
        # than its stall limit: two rounds that time out at every step, and the waits.
        stopped = validators[3]
        pause_s = stopped.get_stall_limit_s()
        net.pause(stopped)
        stopped_at = time.monotonic()
        paused_tip = len(validators[0].get_roots())
        await post_batches(validators[0], batches[:2])
        await wait_until("trading without v3", lambda: count_included(validators[0], batches) == 2)
        await wait_until(
            "the timeouts to pass",
            lambda: (
                time.monotonic() - stopped_at > pause_s
                and len(validators[0].get_roots()) > paused_tip + 2
            ),
        )
        net.resume(stopped)
        await post_batches(validators[1], batches[2:])
        await wait_until("the last batch", lambda: count_included(validators[0], batches) == 3)
        tip = len(validators[0].get_roots())
        await wait_until("v3 to catch up", lambda: len(stopped.get_roots()) >= tip)
        assert assert_roots_agree(validators) >= tip
        assert count_included(stopped, batches) == 3
