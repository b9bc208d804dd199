"""The clearing app behind a real `cometbft` process (one validator): CometBFT's chain
commits to our state roots, and a restarted app is replayed to the same roots."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
import trio

from clearing.genesis import compute_genesis_hash, parse_genesis
from clearing.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from devnet.sandbox import Sandbox
from node.clearing_app import ClearingApp
from node.clock import wall_clock_ms
from node.cometbft.abci import ClearingAbci, DecidedBlock
from node.cometbft.home import ABCI_SOCKET, Listeners, Timeouts, write_home
from node.cometbft.process import find_binary, run_cometbft
from node.cometbft.rpc import CometRpc
from node.cometbft.transport import serve_abci
from node.txcheck import make_clearing_check
from tests.clearing.support import ROOT, USDC, genesis_doc

pytestmark = [pytest.mark.multiprocess]

FAST = Timeouts(propose_ms=1000, prevote_ms=200, precommit_ms=200, commit_ms=200)
MAX_REQUEST = 64 << 20


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def get_missing_dashboard_series(exposition: str) -> set[str]:
    """The CometBFT series the Grafana dashboard queries that this CometBFT does not serve."""
    dashboard = json.loads((ROOT / "configs" / "grafana" / "clearnode.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    wanted = {m for e in exprs for m in re.findall(r"\b(cometbft_[a-z0-9_]+)", e)}
    served = set(re.findall(r"^(cometbft_[a-z0-9_]+)", exposition, re.M))
    assert wanted, "the dashboard queries no CometBFT series"
    return wanted - served


def one_validator_doc() -> dict[str, object]:
    doc = genesis_doc()
    doc["validators"] = doc["validators"][:1]  # type: ignore[index]
    doc["genesis_time_ms"] = wall_clock_ms() - 60_000
    return doc


async def run_chain(home: Path, abci: ClearingAbci, until: trio.Event) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_abci, home / ABCI_SOCKET, abci.handle, MAX_REQUEST)
        await nursery.start(run_cometbft, find_binary(), home)
        await until.wait()
        nursery.cancel_scope.cancel()


async def wait_for(predicate: object, timeout_s: float = 30.0) -> None:
    with trio.fail_after(timeout_s):
        while not predicate():  # type: ignore[operator]
            await trio.sleep(0.05)


async def test_cometbft_commits_our_roots_and_replays_a_restarted_app(tmp_path: Path) -> None:
    doc = one_validator_doc()
    genesis_bytes = repr(doc).encode()
    genesis = parse_genesis(doc)
    box = Sandbox.from_genesis_doc(doc, clock_ms=wall_clock_ms)
    p2p, rpc_port, metrics_port = free_ports(3)
    home = tmp_path / "cometbft"
    write_home(
        home,
        moniker="v0",
        genesis=genesis,
        genesis_hash=compute_genesis_hash(genesis_bytes),
        node_key=derive_ed25519_key("node-0"),
        validator_key=derive_ed25519_key("validator-0"),
        listeners=Listeners("127.0.0.1", p2p, rpc_port, metrics_port),
        timeouts=FAST,
    )

    def make_abci(committed: list[DecidedBlock]) -> ClearingAbci:
        app = ClearingApp(genesis)
        return ClearingAbci(
            app,
            compute_genesis_hash(genesis_bytes),
            make_clearing_check(lambda: app.state, wall_clock_ms),
            committed.append,
        )

    alice = derive_member_key("alice")
    txs = [
        encode_tx(box.credit(alice.address, USDC, 5_000_000)),
        encode_tx(box.authorise(alice, "alpha")),
    ]
    first: list[DecidedBlock] = []
    abci = make_abci(first)
    done = trio.Event()
    rpc = CometRpc(rpc_port)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_chain, home, abci, done)
        await wait_for(lambda: len(first) >= 1)
        answers = [await rpc.broadcast_tx(tx) for tx in txs]
        assert [a.code for a in answers] == [0, 0], answers
        refused = await rpc.broadcast_tx(b"\x93\x01")
        assert (refused.code, refused.error) == (2, "DecodeError"), refused
        await wait_for(lambda: set(txs) <= {tx for b in first for tx in b.record.txs})
        last = first[-1].record.height
        await wait_for(lambda: first[-1].record.height >= last + 2)
        for block in first[:-1]:
            header = await rpc.get_header(block.record.height + 1)
            assert bytes.fromhex(header["app_hash"]) == block.result.state_root
        results = [r for b in first for r in b.result.tx_results]
        assert all(r.is_ok() for r in results), results
        exposition = await rpc.client.get(f"http://127.0.0.1:{metrics_port}/metrics")
        # a lone validator has no peers, so CometBFT never sets that gauge
        assert get_missing_dashboard_series(exposition.text) == {"cometbft_p2p_peers"}
        done.set()
    await rpc.aclose()

    # A new app from genesis: CometBFT replays its blocks, and every root comes out equal.
    second: list[DecidedBlock] = []
    roots = {b.record.height: b.result.state_root for b in first}
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_chain, home, make_abci(second), done)
        await wait_for(lambda: len(second) > len(first))
        done.set()
    replayed = {b.record.height: b.result.state_root for b in second}
    assert {height: replayed[height] for height in roots} == roots
