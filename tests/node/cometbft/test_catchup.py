"""A CometBFT far behind its peers is restarted into block sync (node/cometbft/catchup.py):
the rule on its readings, the watch on a scripted RPC, what the node does between the
two CometBFTs, and a real restart beside a running app, which commits on without a gap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from clearing.genesis import compute_genesis_hash, parse_genesis
from clearing.tx_kind import Admission
from clearnode.client.sandbox_keys import derive_ed25519_key
from node.clearing_app import ClearingApp
from node.clock import wall_clock_ms
from node.cometbft.abci import ClearingAbci, DecidedBlock
from node.cometbft.catchup import (
    RESTART_AFTER_S,
    RESTART_PAUSE_S,
    EngineRestart,
    Lag,
    LagWatch,
    parse_peer_heights,
    read_lag,
    restart_when_behind,
)
from node.cometbft.home import RPC_SOCKET, Listeners, write_home
from node.cometbft.process import StoppedMidBlock, find_binary
from node.cometbft.rpc import CometRpc, CometRpcUnreachable
from node.cometbft.runtime import run_engine, take_up_restart
from node.keys import get_node_id
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.storage.comet_block import CometBlockRecord
from node.txcheck import make_clearing_check
from tests.node.cometbft.test_engine_process import (
    FAST,
    MAX_REQUEST,
    free_ports,
    one_validator_doc,
    wait_for,
)


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=10), st.integers(1, 10**9))
def test_one_peer_claiming_any_height_moves_nothing_with_two_others(
    heights: list[int], claimed: int
) -> None:
    """The network's height is one at least half the peers reached: a lone peer's claim
    beside two or more others never raises it above the others' highest."""
    if len(heights) < 2:
        heights = heights * 2
    lag = Lag(0, (*heights, claimed), catching_up=False)
    network = lag.get_network_height()
    assert network is not None and network <= max(heights) - 1
    reached = sum(1 for h in (*heights, claimed) if h - 1 >= network)
    assert 2 * reached >= len(heights) + 1


def test_the_gap_is_to_the_peers_last_commit_and_none_while_block_syncing() -> None:
    # peers report the height they decide: 131 means 130 committed
    assert Lag(100, (131, 131, 5), catching_up=False).get_behind() == 30
    assert Lag(100, (131, 131, 5), catching_up=True).get_behind() == 0
    assert Lag(100, (), catching_up=False).get_behind() == 0
    assert Lag(140, (131, 131, 131), catching_up=False).get_behind() == 0


def test_a_restart_is_due_only_after_the_gap_held_for_the_whole_wait() -> None:
    watch = LagWatch(behind_heights=20, after_s=5.0)
    far, near = Lag(100, (200, 200, 200), False), Lag(190, (200, 200, 200), False)
    assert not watch.is_stuck_behind(0.0, far)
    assert not watch.is_stuck_behind(4.9, far)
    assert not watch.is_stuck_behind(5.5, near)  # closing by itself: the wait starts over
    assert not watch.is_stuck_behind(6.0, far)
    assert not watch.is_stuck_behind(10.9, far)
    assert watch.is_stuck_behind(11.0, far)


def test_the_peers_heights_are_read_from_cometbft_s_consensus_dump() -> None:
    dump = {
        "round_state": {"height": "57"},
        "peers": [
            {"node_address": "a@1.2.3.4:26656", "peer_state": {"round_state": {"height": "61"}}},
            {"node_address": "b@1.2.3.5:26656", "peer_state": {"round_state": {"height": "60"}}},
        ],
    }
    assert parse_peer_heights(dump) == (61, 60)
    assert parse_peer_heights({"peers": None}) == ()


class ScriptedRpc:
    """CometBFT's answers to `status` and `dump_consensus_state`, one reading a poll: its
    height and its peers', or None when it does not answer."""

    def __init__(self, readings: list[tuple[int, int] | None]) -> None:
        self.readings = readings
        self.polls = 0

    async def call(self, method: str, **params: Any) -> Any:
        self.polls += method == "status"  # each poll asks for its status first
        reading = self.readings[min(self.polls, len(self.readings)) - 1]
        if reading is None:
            raise CometRpcUnreachable(method, "ConnectError")
        height, peers = reading
        if method == "status":
            return {"sync_info": {"latest_block_height": str(height), "catching_up": False}}
        peer = {"peer_state": {"round_state": {"height": str(peers + 1)}}}
        return {"peers": [peer, peer, peer]}


async def test_the_watch_restarts_once_per_pause_and_an_unanswered_poll_starts_over(
    autojump_clock: trio.testing.MockClock,
) -> None:
    readings: list[tuple[int, int] | None] = [(10, 100)] * 3 + [None] + [(10, 100)] * 300
    rpc = ScriptedRpc(readings)
    restarts: list[float] = []
    restart = EngineRestart()
    restart.request = lambda: restarts.append(trio.current_time())
    with trio.move_on_after(RESTART_PAUSE_S + 30):
        await restart_when_behind(rpc, restart, behind_heights=20)
    # the gap seen at 1, 2, 3 s, lost at 4, seen again from 5 s on: due 5 s later
    assert restarts[0] == pytest.approx(5 + RESTART_AFTER_S)
    assert len(restarts) == 2 and restarts[1] - restarts[0] >= RESTART_PAUSE_S


def make_abci_holding_a_transaction() -> ClearingAbci:
    """The app of a one-validator chain whose node's mempool holds one."""
    app = ClearingApp(parse_genesis(one_validator_doc()))
    mempool = Mempool(lambda tx: Admission(b"member", 0))
    mempool.add(b"tx")
    return ClearingAbci(
        app, b"\0" * 32, mempool, lambda block: None, allowed_peers=lambda: None
    )  # fmt: skip


def test_a_new_engine_is_refused_mid_block_and_a_restart_keeps_the_mempool() -> None:
    """The node's mempool is its own: what it admitted waits for the new CometBFT's
    proposals, which reap it, as it waited for the old one's."""
    abci, metrics = make_abci_holding_a_transaction(), NodeMetrics()
    take_up_restart(abci, metrics)
    assert len(abci.mempool) == 1
    assert "clearnode_cometbft_restarts_total 1.0" in metrics.render().decode()
    record = CometBlockRecord(7, wall_clock_ms(), b"\1" * 32, b"\2" * 20, ())
    abci.finalized = DecidedBlock(record, result=None)
    with pytest.raises(StoppedMidBlock) as raised:
        take_up_restart(abci, metrics)
    assert raised.value.height == 7 and "block 7" in str(raised.value)


@pytest.mark.multiprocess
async def test_a_full_node_s_cometbft_restarted_beside_its_app_commits_on_without_a_gap(
    tmp_path: Path,
) -> None:
    doc = one_validator_doc()
    genesis, genesis_hash = parse_genesis(doc), compute_genesis_hash(repr(doc).encode())
    ports = free_ports(2)
    keys = {"v0": derive_ed25519_key("node-0"), "full": derive_ed25519_key("full")}
    validator_addr = f"{get_node_id(keys['v0'])}@127.0.0.1:{ports[0]}"
    homes = {name: tmp_path / name for name in keys}
    for (name, home), port in zip(homes.items(), ports, strict=True):
        write_home(
            home, moniker=name, genesis=genesis, genesis_hash=genesis_hash,
            node_key=keys[name],
            validator_key=derive_ed25519_key("validator-0") if name == "v0" else None,
            listeners=Listeners("127.0.0.1", port),
            persistent_peers=() if name == "v0" else (validator_addr,), timeouts=FAST,
        )  # fmt: skip
    decided: dict[str, list[DecidedBlock]] = {name: [] for name in keys}
    restart = EngineRestart()

    async def run(name: str, restart: EngineRestart | None) -> None:
        app = ClearingApp(genesis)
        mempool = Mempool(make_clearing_check(lambda: app.state, wall_clock_ms))
        abci = ClearingAbci(
            app, genesis_hash, mempool, decided[name].append, allowed_peers=lambda: None,
            empty_block_wait_ms=FAST.empty_block_wait_ms,
        )  # fmt: skip
        restart_to = restart or EngineRestart()
        restart_to.prepare = abci.take_up_new_engine
        await run_engine(
            find_binary(), homes[name], abci.handle, MAX_REQUEST, lambda found: None,
            gather=abci.gather, restart=restart_to,
        )  # fmt: skip

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run, "v0", None)
        nursery.start_soon(run, "full", restart)
        await wait_for(lambda: len(decided["full"]) >= 2)
        async with CometRpc(homes["full"] / RPC_SOCKET) as rpc:
            lag = await read_lag(rpc)  # the real dump's shape: the validator its one peer
            assert len(lag.peer_heights) == 1 and lag.peer_heights[0] >= lag.height
            before = len(decided["full"])
            restart.request()
            await wait_for(lambda: restart.count == 1)
            await wait_for(lambda: len(decided["full"]) >= before + 3)
            assert (await read_lag(rpc)).height >= before + 3  # the new one answers
        nursery.cancel_scope.cancel()
    full, v0 = decided["full"], {b.record.height: b.result.state_root for b in decided["v0"]}
    assert [b.record.height for b in full] == list(range(1, len(full) + 1))
    assert all(v0[b.record.height] == b.result.state_root for b in full if b.record.height in v0)
