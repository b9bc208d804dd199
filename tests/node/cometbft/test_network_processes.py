"""Four `clearnode start` validators on CometBFT, as operators run them: they commit the
same roots, what a validator accepted (202) commits exactly once on every node even
when that validator is killed (-9) right after answering, the killed one catches up
when it starts again (its CometBFT went down with it: the restarted one binds the same
ports; another was stopped just before, for 25 s, and catches up by CometBFT's block
sync once started again). A member reads
its history with its signed query as on our engine; the committed blocks (credits, venue
authorisations, batches, the oracle's prices) replayed through our engine's application
path give CometBFT's app hash at every height; a node whose CometBFT is killed (-9)
stops, exit 1, its ports free."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import sqlite3
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import trio

from clearing.genesis import parse_genesis
from clearnode.client.sandbox_keys import derive_member_key
from consensus.compact import compute_tx_hash
from lightclient.cometbft import CometValidatorPowers
from node.cometbft.home import RPC_SOCKET
from node.cometbft.rpc import CometRpc
from node.commands.init import render_oracle
from node.config import load_config
from node.ports import get_bind_problem, get_listen_ports
from node.storage.comet_block import CometBlockRecord, SignedHeader
from tests.node.cometbft.replay import replay_cometbft_blocks
from tests.node.history.test_history_network import get_fills, get_member_fills, read_history
from tests.node.netproc import ORACLE_OFF, QUICK_BLOCKS, NodeHome, ProcessNetwork, running
from tests.node.restarts import is_answering
from tests.node.test_network_inprocess import setup_txs
from tests.node.test_network_processes import (
    assert_roots_agree,
    get_lowest_tip,
    post_setup,
    post_tx_until_accepted,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


def read_records(home: NodeHome) -> list[CometBlockRecord]:
    """The node's stored blocks, in order."""
    if not home.db.exists():
        return []
    db = sqlite3.connect(f"file:{home.db}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT block FROM blocks ORDER BY height").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()
    return [CometBlockRecord.decode(row) for (row,) in rows]


def read_txs(home: NodeHome) -> list[bytes]:
    """Every transaction of the node's stored blocks, in order."""
    return [tx for record in read_records(home) for tx in record.txs]


def is_committed_once(homes: list[NodeHome], txs: list[bytes]) -> bool:
    for home in homes:
        found = read_txs(home)
        if any(found.count(tx) != 1 for tx in txs):
            return False
    return True


async def post(home: NodeHome, route: str, txs: list[bytes]) -> None:
    for tx in txs:
        await post_tx_until_accepted(home, route, tx)


def get_first_height(home: NodeHome) -> int:
    return int(home.get_json("/v1/status")[1]["storage"]["first_height"])


def get_outcome(home: NodeHome, tx: bytes) -> dict[str, Any]:
    code, outcome = home.get_json(f"/v1/txs/0x{compute_tx_hash(tx).hex()}")
    assert code == 200, outcome
    return dict(outcome)


def check_signed_headers(home: NodeHome) -> list[int]:
    """The heights of the stored blocks that carry CometBFT's signed header (what anchors
    are made of), each checked as a verifier would: committed by the genesis set, its app
    hash the root the node stored for the block before."""
    genesis = parse_genesis(json.loads((home.path / "genesis.json").read_text()))
    powers = CometValidatorPowers.of((v.pubkey, v.power) for v in genesis.validators)
    roots = home.get_roots()
    db = sqlite3.connect(f"file:{home.db}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT height, cert FROM blocks WHERE cert != x''").fetchall()
    finally:
        db.close()
    for height, cert in rows:
        signed = SignedHeader.decode(cert)
        assert signed.header.height == height and signed.header.hash == signed.commit.block_hash
        signed.commit.verify(signed.header.chain_id, powers)
        if height > 1:
            assert signed.header.app_hash == roots[height - 1]
    return [height for height, _ in rows]


OUTAGE_S = 25
SWITCHED = re.compile(r"Time to switch to consensus reactor!.*?\bheight=(\d+)")
"""CometBFT's line when block sync has brought a node to its peers' height."""


def get_block_synced_to(home: NodeHome, since: int) -> int:
    """The height at which the node's CometBFT last left block sync, in the log it wrote
    from byte `since` on (0 when it has not)."""
    with open(home.path / "node.log", "rb") as log:
        log.seek(since)
        found = SWITCHED.findall(log.read().decode(errors="replace"))
    return int(found[-1]) if found else 0


PRUNED = "[storage]\nsnapshot_interval = 5\nblocks_kept = 60\n"
"""Two of the validators keep 60 blocks: our store and CometBFT's are pruned as they run
and restart. 60 is more than the stopped validator falls behind (25 in its 25 s away: with one
of four down, every fourth height waits out the propose timeout), since CometBFT's block
sync leaves at once when the first peers to answer hold none of the blocks it needs
(docs/operator.md, "Pruned and archive nodes"). The network waits a quarter of a second
for transactions (`QUICK_BLOCKS`), so that it passes 60 blocks soon after: idle, at
the default second, a network whose root stays put makes one a second."""
SENT = {"CollateralCredit": 4, "AuthoriseVenue": 4, "TradeBatch": 3}
"""The transactions the test sends (setup_txs), by type."""
CRASH_STOP_S = 15
"""How soon a node whose CometBFT died has stopped (1.0 to 1.2 s in the runs that passed)."""


def find_child(pid: int, name: str) -> int:
    """The pid of process `pid`'s child called `name`, from /proc: each thread's children
    (trio starts a process from a worker thread, not the main one)."""
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            if Path(f"/proc/{child}/comm").read_text().strip() == name:
                return int(child)
    raise AssertionError(f"process {pid} has no child {name}")


async def crash_cometbft(net: ProcessNetwork, home: NodeHome) -> None:
    """Kills the node's CometBFT (-9): the node stops too, exit 1 saying why, its ports
    (the node's and its CometBFT's) free."""
    process = net.processes.pop(home.name)
    os.kill(find_child(process.pid, "cometbft"), signal.SIGKILL)
    wait = functools.partial(process.wait, CRASH_STOP_S)
    assert await trio.to_thread.run_sync(wait) == 1
    assert "clearnode start: cometbft exited with code -9" in (home.path / "node.log").read_text()
    config = load_config(home.path)
    assert config.cometbft is not None
    comet = config.cometbft
    ports = [port for _, _, port in get_listen_ports(config)]
    ports += [comet.p2p_port, comet.metrics_port]
    assert [p for p in ports if get_bind_problem("127.0.0.1", p) is not None] == []


async def test_batches_accepted_before_a_kill_9_commit_once_everywhere(tmp_path: Path) -> None:
    setup, batches = setup_txs()
    # genesis names each validator's node (observers=()): CometBFT's peer filter lets in
    # only those, as on a real network
    network = ProcessNetwork(
        tmp_path / "net", observers=(), engine="cometbft", extra_config=QUICK_BLOCKS
    )
    for home in network.homes:  # the oracle's price updates in the blocks too
        config = home.path / "config.toml"
        config.write_text(config.read_text().replace(ORACLE_OFF, render_oracle(network.genesis)))
    pruned = network.homes[1:3]
    for home in pruned:
        with open(home.path / "config.toml", "a") as config:
            config.write(PRUNED)
    with running(network) as net:
        validators = list(net.homes)
        await post_setup(validators, setup)
        await wait_until("setup on every node", lambda: is_committed_once(validators, setup))
        # a validator stopped for 25 s (an operator's stop), during which another is
        # killed (-9) and restarted and the committed blocks are read: with two of four
        # running meanwhile, nothing commits until the killed one is back
        away, target = validators[3], validators[2]
        up = validators[:3]
        stopped_at, log_end = time.monotonic(), (away.path / "node.log").stat().st_size
        process = net.processes.pop(away.name)
        process.send_signal(signal.SIGTERM)
        assert await trio.to_thread.run_sync(process.wait) == 0
        left_at = max(away.get_roots())
        await post(target, "/v1/trade-batches", batches)
        net.kill(target)  # right after its 202s: its mempool may not have gossiped them
        net.start(target)
        committed = lambda: is_committed_once(up, batches)  # noqa: E731
        await wait_until("the batches once on every running node", committed)
        others = get_lowest_tip([v for v in up if v is not target])
        # its stored tip can be the others' before it listens again (the batches were in
        # before the kill): its API answering is what says the process is back
        back = lambda: is_answering(target) and get_lowest_tip(up) >= others  # noqa: E731
        await wait_until("the restarted node answering, at the others' tip", back)
        assert_roots_agree(validators)
        for home in up:  # what each node tells a venue of its batches
            outcomes = [await trio.to_thread.run_sync(get_outcome, home, b) for b in batches]
            assert [(o["status"], o["code"]) for o in outcomes] == [("committed", "ok")] * 3
        _, block = await trio.to_thread.run_sync(validators[0].get_json, "/v1/blocks/1")
        assert (block["engine"], block["height"]) == ("cometbft", 1) and "block" not in block
        _, page = await trio.to_thread.run_sync(validators[0].get_json, "/v1/status")
        assert page["height"] >= others and page["mempool"] == {"txs": 0, "bytes": 0}
        # the replay below compares a block's root with the next block's header, which
        # CometBFT serves once that next block is committed: wait for the one after the
        # batches' block
        batches_at = max(r.height for r in read_records(validators[0]) if set(batches) & set(r.txs))
        signed = lambda: check_signed_headers(validators[0])  # noqa: E731
        await wait_until(
            "a signed header past the batches", lambda: max(signed(), default=0) > batches_at
        )
        url = f"http://127.0.0.1:{validators[0].api_port}/status"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert "<table id='blocks'>" in answer.read().decode()
        # a member's history (its signed query), as on our engine, and the blocks replayed
        # through our engine
        member = derive_member_key("m0")
        events = await read_history(validators[0], member, net.genesis["chain_id"])
        fills = get_member_fills(read_txs(validators[0]), member.address)
        assert get_fills(events) == fills and len(fills) == 18  # 3 batches, 6 trades each
        assert {e["kind"] for e in events} >= {"collateral_credited", "venue_authorisation"}
        assert await read_history(target, member, net.genesis["chain_id"]) == events
        replayed = replay_cometbft_blocks(validators[0].path)
        assert {kind: replayed.kinds[kind] for kind in SENT} == SENT, replayed
        assert replayed.kinds["PriceUpdate"] > 0, replayed
        assert replayed.referenced >= SENT["TradeBatch"], replayed  # the batches by reference
        await trio.sleep(max(0.0, stopped_at + OUTAGE_S - time.monotonic()))
        # it comes back more than 15 heights behind: 1 to 3 blocks a second meanwhile,
        # which a loaded machine made 14 (the kill and restart above commit nothing)
        behind = lambda: get_lowest_tip(up) > left_at + 15  # noqa: E731
        await wait_until("the others 15 heights past the stopped node", behind)
        net.start(away)
        tip = get_lowest_tip(up)
        synced = lambda: get_block_synced_to(away, log_end) >= tip  # noqa: E731
        await wait_until("the stopped node to block-sync to the others' tip", synced, 120)
        await wait_until("its store at that tip", lambda: get_lowest_tip(validators) >= tip)
        assert_roots_agree(validators)
        assert is_committed_once(validators, batches)
        for home in pruned:  # our store and CometBFT's, from one first height on
            pruning = functools.partial(get_first_height, home)
            await wait_until(f"{home.name} to prune", lambda: pruning() > 1)  # noqa: B023
            first = pruning()
            async with CometRpc(home.path / "cometbft" / RPC_SOCKET) as rpc:
                status = await rpc.call("status")
            earliest = int(status["sync_info"]["earliest_block_height"])
            assert 1 < earliest <= first, (home.name, earliest, first)
        await crash_cometbft(net, validators[1])
