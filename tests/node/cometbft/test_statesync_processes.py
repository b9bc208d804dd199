"""CometBFT's state sync between `clearnode start` processes: a full node with an empty
store and `[state_sync] enabled` trusts block 1 (checked against the genesis's set),
lets CometBFT's light client read its peers through the light-RPC relay, restores the
app from a validator's snapshot, and follows the chain from there; a validator that lost
its data restores the same way from a checkpoint, signs again and is not punished, and
backfills the blocks and the members' history below its snapshot; a
restore CometBFT never took up (the node stopped between the app's and CometBFT's
records of it) is replaced by the next."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clearnode.client.sandbox_keys import derive_seed
from lightclient.cometbft import FLAG_COMMIT, get_address
from lightclient.crypto import PrivateKey
from node.clock import wall_clock_ms
from node.storage import NodeStore, Snapshot, StoredBlock
from node.storage.comet_block import SignedHeader
from tests.node.netproc import (
    SHORT_TIMEOUTS,
    NodeHome,
    ProcessNetwork,
    read_rows,
)
from tests.node.statesync.test_statesync_processes import (
    STATE_SYNC,
    enable_state_sync,
    read_synced_height,
)
from tests.node.test_network_processes import (
    assert_roots_agree,
    get_lowest_tip,
    get_tip,
    read_heights,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow, pytest.mark.beside_networks]

SNAPSHOTS = "[storage]\nsnapshot_interval = 4\nsnapshots_kept = 30\n"
"""A snapshot each 4 blocks, kept for 120: a minute at the two heights a second these
timeouts give an idle network, well past the 5 s CometBFT spends discovering snapshots
and the light client's checks. A snapshot pruned while a node fetches it is asked for
again and again (CometBFT's syncer has no answer for a chunk no peer holds any longer):
kept for 32 blocks, when CometBFT made 7 heights a second here (a proof block after each
that moved the root), the snapshot chosen was gone when its first chunk was asked for."""


def make_network(base: Path) -> tuple[ProcessNetwork, NodeHome]:
    """Four validators on CometBFT and a full node, not started, that state-syncs."""
    net = ProcessNetwork(
        base, engine="cometbft", genesis_time_ms=wall_clock_ms() - 60_000,
        extra_config=SHORT_TIMEOUTS + SNAPSHOTS,
    )  # fmt: skip
    late = net.add_node_before_start(base, "late", None)
    enable_state_sync(late)
    return net, late


def wipe_keeping_signing_state(home: NodeHome) -> None:
    """The node's store and CometBFT's data deleted, but CometBFT's last signed height."""
    data = home.path / "cometbft" / "data"
    guard = (data / "priv_validator_state.json").read_bytes()
    shutil.rmtree(home.path / "data")
    shutil.rmtree(data)
    data.mkdir(mode=0o700)
    (data / "priv_validator_state.json").write_bytes(guard)


def leave_restore_not_taken_up(home: NodeHome, source: NodeHome) -> int:
    """`home`'s store as a state sync stopped between the app's restore and CometBFT's
    leaves it (CometBFT's data empty): `source`'s oldest snapshot and its block. Its
    height."""
    ((height, state, root),) = read_rows(
        source.db, "SELECT height, state, state_root FROM snapshots ORDER BY height LIMIT 1"
    )
    query = f"SELECT block, cert FROM blocks WHERE height = {height}"
    ((block, cert),) = read_rows(source.db, query)
    home.db.parent.mkdir(mode=0o700, exist_ok=True)
    with NodeStore(home.db) as store:
        store.save_restored(
            Snapshot(height, state, root), StoredBlock(height, block, cert, root), ()
        )
    return int(height)


def validator_address(home: NodeHome) -> bytes:
    assert home.validator_index is not None
    return get_address(PrivateKey(derive_seed(f"validator-{home.validator_index}")).public_key)


def signs_at_tip(home: NodeHome, addresses: set[bytes]) -> bool:
    """The newest commit `home` stored holds a precommit of each of `addresses`."""
    rows = read_rows(home.db, "SELECT cert FROM blocks WHERE cert != x'' ORDER BY height DESC")
    if not rows:
        return False
    signatures = SignedHeader.decode(rows[0][0]).commit.signatures
    signed = {s.validator_address for s in signatures if s.flag == FLAG_COMMIT}
    return addresses <= signed


def read_snapshot_trailers(home: NodeHome) -> dict[int, bytes]:
    """The signed header each of the node's snapshots is served with, by height."""
    rows = read_rows(
        home.db, "SELECT b.height, b.cert FROM blocks b JOIN snapshots s ON s.height = b.height"
    )
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

        # a validator loses its store and CometBFT's blocks, keeping CometBFT's signing
        # state (what guards it against signing twice): it restores by state sync, trusting
        # a checkpoint its operator read from another node, and votes again. Its first
        # restore was stopped before CometBFT took it up: CometBFT restores afresh
        lost = validators[3]
        net.kill(lost)
        lost_at = get_tip(lost)
        await wait_until("the others to move on", lambda: get_tip(validators[0]) > lost_at + 4)
        wipe_keeping_signing_state(lost)
        interrupted = leave_restore_not_taken_up(lost, validators[0])
        checkpoint = validators[0].get_json("/v1/status")[1]["trust"]["checkpoint"]
        with open(lost.path / "config.toml", "a") as config:
            config.write(STATE_SYNC + f"checkpoint = '{checkpoint}'\nbackfill = true\n")
        net.start(lost)
        await wait_until("it to state-sync", lambda: read_synced_height(lost) > lost_at)
        tip = get_tip(validators[0])
        await wait_until("it to follow the chain", lambda: get_tip(lost) > tip)
        lost_log = (lost.path / "node.log").read_text()
        assert f"state sync: trusting block {checkpoint.split(':')[0]}" in lost_log
        assert f"did not take up this node's restore of height {interrupted}" in lost_log
        signers = {validator_address(lost)}
        await wait_until("it to sign again", lambda: signs_at_tip(validators[0], signers))
        _, listed_now = validators[0].get_json("/v1/validators")
        assert [v["jailed"] for v in listed_now["validators"]] == [None] * 4
        # and backfills the blocks below its snapshot from the others' block sync: each
        # as they hold it, with its signed header and the state root after it
        await wait_until("its backfill", lambda: read_heights(lost)[0] == 1)
        for height in (1, read_synced_height(lost) - 1):
            held = (h.get_json(f"/v1/blocks/{height}") for h in (lost, validators[0]))
            assert next(held) == next(held)
        assert assert_roots_agree(net.homes) > tip
        await wait_until("its history rebuilt", lambda: lost.get_json("/v1/status")[1][
            "storage"]["history_first_height"] == 1)  # fmt: skip
    finally:
        net.close()
