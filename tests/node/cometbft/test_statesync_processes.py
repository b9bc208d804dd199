"""CometBFT's state sync between `clearnode start` processes: a full node with an empty
store and `[state_sync] enabled` trusts block 1 (checked against the genesis's set),
lets CometBFT's light client read its peers through the light-RPC relay, restores the
app from a validator's snapshot, and follows the chain from there."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from node.clock import wall_clock_ms
from tests.node.netproc import (
    ORACLE_OFF,
    SHORT_TIMEOUTS,
    NodeHome,
    ProcessNetwork,
    add_cometbft_tables,
)
from tests.node.statesync.test_statesync_processes import STATE_SYNC, read_synced_height
from tests.node.test_network_processes import (
    assert_roots_agree,
    get_lowest_tip,
    get_tip,
    read_heights,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

SNAPSHOTS = "[storage]\nsnapshot_interval = 4\nsnapshots_kept = 8\n"
"""A snapshot each 4 blocks, kept for 32: long enough for the light client's checks (a
snapshot pruned while a node fetches it is asked for again and again: CometBFT's syncer
has no answer for a chunk no peer holds any longer)."""


def make_network(base: Path) -> tuple[ProcessNetwork, NodeHome]:
    """Four validators on CometBFT and a full node, not started, that state-syncs."""
    net = ProcessNetwork(base, engine="cometbft", genesis_time_ms=wall_clock_ms() - 60_000)
    late = NodeHome(base / "late", "late", None)
    net.homes.append(late)
    for home in net.homes:
        home.extra_config = ORACLE_OFF + SHORT_TIMEOUTS + SNAPSHOTS
    late.extra_config += STATE_SYNC
    add_cometbft_tables(net.homes)
    addrs = [h.addr for h in net.homes]
    for home in net.homes:
        shutil.rmtree(home.path / "keys", ignore_errors=True)  # the same keys (by name) again
        home.write(net.genesis, [a for a in addrs if a != home.addr])
    return net, late


def read_snapshot_trailers(home: NodeHome) -> dict[int, bytes]:
    """The signed header each of the node's snapshots is served with, by height."""
    db = sqlite3.connect(f"file:{home.db}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT b.height, b.cert FROM blocks b JOIN snapshots s ON s.height = b.height"
        ).fetchall()
    finally:
        db.close()
    return {int(height): bytes(cert) for height, cert in rows if cert}


async def test_a_node_joins_a_cometbft_network_by_state_sync(tmp_path: Path) -> None:
    net, late = make_network(tmp_path / "net")
    validators = net.homes[:4]
    try:
        for home in validators:
            net.start(home)
        await wait_until("two snapshots", lambda: get_lowest_tip(validators) >= 10)
        net.start(late)
        await wait_until("the late node to state-sync", lambda: read_synced_height(late) > 0)
        synced = read_synced_height(late)
        assert synced >= 4 and synced % 4 == 0
        assert read_heights(late)[0] == synced  # no block before its snapshot's
        tip = get_tip(validators[0])
        await wait_until("it to follow the chain", lambda: get_tip(late) > tip)
        assert assert_roots_agree(net.homes) > tip
        log = (late.path / "node.log").read_text()
        assert "state sync: trusting block 1" in log

        # it says what it does not hold, and holds the blocks after its snapshot's
        storage = late.get_json("/v1/status")[1]["storage"]
        assert (storage["first_height"], storage["history_first_height"]) == (synced, synced + 1)
        code, refused = late.get_json("/v1/blocks/1")
        assert (code, refused["error"]["details"]["first_height"]) == (410, synced)
        assert late.get_json(f"/v1/blocks/{synced + 1}")[0] == 200
        # every honest node serves the same snapshot: the block's canonical commit
        listed = {home.name: read_snapshot_trailers(home) for home in validators}
        common = set.intersection(*(set(t) for t in listed.values()))
        assert common and all(len({listed[n][h] for n in listed}) == 1 for h in common), listed
    finally:
        net.close()
