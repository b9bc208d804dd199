"""The clearing app behind a real `cometbft` process (one validator): CometBFT's chain
commits to our state roots, no TCP port of it but p2p shows a committed transaction
(its RPC is a socket only the node's user reaches: the devnet's audit of it passes), a
stranger's CometBFT that knows the chain id is refused by the app's peer filter until
the allowed set names it, and a restarted app is replayed to the same roots."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import trio
from tendermint.abci import types_pb2 as abci

from clearing.genesis import compute_genesis_hash, parse_genesis
from clearing.transition.tx import encode_tx, get_tx_kind
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from devnet.cometbft_privacy import ask_peer_filter, audit_cometbft
from devnet.privacy import Secrets
from devnet.sandbox import Sandbox
from lightclient.anchor import COMETBFT
from node.clearing_app import ClearingApp
from node.clock import wall_clock_ms
from node.cometbft.abci import CODE_NOT_ALLOWED, CODE_OK, ClearingAbci, DecidedBlock
from node.cometbft.home import RPC_SOCKET, Listeners, write_home
from node.cometbft.process import OtherNetwork, find_binary
from node.cometbft.rpc import CometRpc
from node.cometbft.runtime import run_engine
from node.cometbft.transport import Handler
from node.config import ENGINE_TIMEOUTS
from node.keys import NODE_KEY, KeyFile, compute_peer_id, get_node_id
from node.mempool import Mempool
from node.txcheck import make_clearing_check
from tests.clearing.support import ROOT, USDC, genesis_doc

pytestmark = [pytest.mark.multiprocess]

FAST = replace(
    ENGINE_TIMEOUTS[COMETBFT], propose_ms=1000, prevote_ms=200, precommit_ms=200, commit_ms=200
)
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


def get_peer_id(name: str) -> str:
    """The libp2p peer id of the node key derived from `name` (what a genesis lists)."""
    return compute_peer_id(KeyFile(NODE_KEY, derive_ed25519_key(name).private_bytes_raw()))


def record_queries(handle: Handler, answers: list[tuple[str, int]]) -> Handler:
    """`handle`, noting each Query's path and answer code in `answers`."""

    def recording(request: abci.Request) -> abci.Response:
        response = handle(request)
        if request.WhichOneof("value") == "query":
            answers.append((request.query.path, response.query.code))
        return response

    return recording


async def get_peers(rpc: CometRpc) -> set[str]:
    """The node ids of the peers CometBFT holds (its switch's, after every filter)."""
    info = await rpc.call("net_info")
    return {peer["node_info"]["id"] for peer in info["peers"]}


OTHER_NETWORKS: list[OtherNetwork] = []
"""Peers a CometBFT of these tests refused for another network: none (the stranger runs
the network's genesis, and is refused by the app's filter instead)."""


async def run_chain(
    home: Path, app: ClearingAbci, until: trio.Event, handle: Handler | None = None
) -> None:
    """CometBFT and `app` as a node runs them (`run_engine`) until `until` (the requests
    through `handle` if given)."""
    async with trio.open_nursery() as nursery:
        await nursery.start(
            run_engine, find_binary(), home, handle or app.handle, MAX_REQUEST,
            OTHER_NETWORKS.append, lambda: None, lambda failure: None, app.gather,
        )  # fmt: skip
        await until.wait()
        nursery.cancel_scope.cancel()


async def wait_for(predicate: object, timeout_s: float = 30.0) -> None:
    with trio.fail_after(timeout_s):
        while not predicate():  # type: ignore[operator]
            await trio.sleep(0.05)


def get_idle_runs(blocks: list[DecidedBlock]) -> list[tuple[DecidedBlock, ...]]:
    """Each four blocks in a row whose middle two are empty, the first two priced in one
    minute (the example genesis prices options by the minute)."""
    return [
        run
        for run in zip(blocks, blocks[1:], blocks[2:], blocks[3:], strict=False)
        if run[0].record.time_ms // 60_000 == run[1].record.time_ms // 60_000
        and not run[1].record.txs
        and not run[2].record.txs
    ]


def assert_idle_blocks_wait(runs: list[tuple[DecidedBlock, ...]]) -> None:
    """Idle, the chain keeps its root and the proposer waits for transactions: the height
    after an empty block waits the empty-block wait, not only the commit wait. A header's
    time is its commit of the height before, so that height's length is the gap between
    the two headers after it."""
    wait_ms = FAST.empty_block_wait_ms - 200  # the steps' own time, taken from it
    for first, kept, waited, after in runs:
        assert kept.result.state_root == first.result.state_root
        assert after.record.time_ms - waited.record.time_ms >= wait_ms, (waited, after)


async def test_cometbft_commits_our_roots_and_replays_a_restarted_app(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    doc = one_validator_doc()
    genesis_bytes = repr(doc).encode()
    genesis = parse_genesis(doc)
    box = Sandbox.from_genesis_doc(doc, clock_ms=wall_clock_ms)
    p2p, metrics_port = free_ports(2)
    home = tmp_path / "cometbft"
    write_home(
        home,
        moniker="v0",
        genesis=genesis,
        genesis_hash=compute_genesis_hash(genesis_bytes),
        node_key=derive_ed25519_key("node-0"),
        validator_key=derive_ed25519_key("validator-0"),
        listeners=Listeners("127.0.0.1", p2p, metrics_port),
        timeouts=FAST,
    )

    allowed = frozenset({get_peer_id("node-0")})  # a genesis naming its validator's node

    async def ask_validator(
        height: int, wanted: Sequence[bytes], committed: bool, proposer: str | None = None
    ) -> dict[int, list[bytes]]:
        """The validator's blocks' bodies, as its store serves them to a peer's app."""
        return {b.record.height: list(b.record.txs) for b in first if b.record.height >= height}

    def make_abci(committed: list[DecidedBlock], everyone: bool = False) -> ClearingAbci:
        app = ClearingApp(genesis)
        mempool = Mempool(make_clearing_check(lambda: app.state, wall_clock_ms))

        def commit(block: DecidedBlock) -> None:  # as the node's runtime does
            committed.append(block)
            mempool.update(block.record.txs)

        return ClearingAbci(
            app,
            compute_genesis_hash(genesis_bytes),
            mempool,
            commit,
            empty_block_wait_ms=FAST.empty_block_wait_ms,
            allowed_peers=lambda: None if everyone else allowed,
            fetch_bodies=ask_validator,
        )

    # A stranger's node: the network's genesis and software, a node key nobody allowed,
    # the validator's CometBFT as its persistent peer.
    stranger_home = tmp_path / "stranger"
    validator_addr = f"{get_node_id(derive_ed25519_key('node-0'))}@127.0.0.1:{p2p}"
    (stranger_p2p,) = free_ports(1)
    write_home(
        stranger_home,
        moniker="stranger",
        genesis=genesis,
        genesis_hash=compute_genesis_hash(genesis_bytes),
        node_key=derive_ed25519_key("stranger"),
        validator_key=None,
        listeners=Listeners("127.0.0.1", stranger_p2p),
        persistent_peers=(validator_addr,),
        timeouts=FAST,
    )
    # Its RPC may dial on demand: CometBFT's redial of a refused persistent peer stops at
    # a random point (a race in its reconnect loop), so the test dials once it is allowed.
    config = stranger_home / "config" / "config.toml"
    config.write_text(config.read_text().replace("[rpc]\n", "[rpc]\nunsafe = true\n"))
    stranger_id = get_node_id(derive_ed25519_key("stranger"))
    strays: list[DecidedBlock] = []

    alice = derive_member_key("alice")
    txs = [
        encode_tx(box.credit(alice.address, USDC, 5_000_000)),
        encode_tx(box.authorise(alice, "alpha")),
    ]
    first: list[DecidedBlock] = []
    filtered: list[tuple[str, int]] = []
    done = trio.Event()
    rpc = CometRpc(home / RPC_SOCKET)
    async with trio.open_nursery() as nursery:
        validator = make_abci(first)
        nursery.start_soon(
            run_chain, home, validator, done, record_queries(validator.handle, filtered)
        )
        await wait_for(lambda: len(first) >= 1)
        nursery.start_soon(run_chain, stranger_home, make_abci(strays, everyone=True), done)
        for tx in txs:  # as the node's API or its `tx` topic admits them
            validator.mempool.add(tx)
            validator.notice_txs()
        await wait_for(lambda: set(txs) <= {tx for b in first for tx in b.record.txs})
        last = first[-1].record.height

        def since_last() -> list[DecidedBlock]:
            return [b for b in first if b.record.height >= last]

        await wait_for(lambda: len(get_idle_runs(since_last())) >= 2)
        for block in first[:-1]:
            header = await rpc.get_header(block.record.height + 1)
            assert bytes.fromhex(header["app_hash"]) == block.result.state_root
        assert_idle_blocks_wait(get_idle_runs(since_last()))
        results = [r for b in first for r in b.result.tx_results]
        assert all(r.is_ok() for r in results), results
        # What anyone on the host reads of CometBFT's TCP ports (metrics here) shows no
        # transaction; its RPC socket shows the node's user the blocks' transactions.
        secrets = Secrets(addresses={alice.address.hex(): "alice"})
        for tx in txs:
            secrets.add_tx(tx, get_tx_kind(tx))
        heights = [b.record.height for b in first if set(txs) & set(b.record.txs)]
        assert await audit_cometbft("v0", home, p2p, secrets, heights) == []
        # CometBFT asked the app about the stranger once it had dialled (and its address,
        # which passes) and kept it out: no peer, and not one block reached its app.
        await wait_for(lambda: (f"/p2p/filter/id/{stranger_id}", CODE_NOT_ALLOWED) in filtered)
        assert any(
            p.startswith("/p2p/filter/addr/127.0.0.1:") and c == CODE_OK for p, c in filtered
        )
        assert await get_peers(rpc) == set() and strays == []
        # the devnet's privacy audit asks the same through CometBFT's RPC
        assert await ask_peer_filter(rpc.client, stranger_id) == CODE_NOT_ALLOWED
        async with httpx.AsyncClient() as http:
            exposition = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
        # a lone validator has no peers, so CometBFT never sets that gauge
        assert get_missing_dashboard_series(exposition.text) == {"cometbft_p2p_peers"}
        # The allowed set names it (as AllowedPeers does when governance adds a validator):
        # the filter lets its next dial in, and it syncs the validator's blocks.
        allowed = frozenset({get_peer_id("node-0"), get_peer_id("stranger")})
        async with CometRpc(stranger_home / RPC_SOCKET) as theirs:
            await theirs.call("dial_peers", peers=[validator_addr], persistent=True)
        await wait_for(lambda: len(strays) >= 2)
        assert await get_peers(rpc) == {stranger_id}
        assert (f"/p2p/filter/id/{stranger_id}", CODE_OK) in filtered
        assert await ask_peer_filter(rpc.client, stranger_id) == CODE_OK
        assert [b.result.state_root for b in strays] == [
            b.result.state_root for b in first[: len(strays)]
        ]
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
    assert OTHER_NETWORKS == []
    # each CometBFT stopped while its app still answered: none had to be killed
    assert not [r for r in caplog.records if "did not stop" in r.getMessage()]
