"""State sync's cost against the chain's length, beside replaying the chain from genesis.

    python -m bench statesync [--blocks 200 2000] [--interval 100]
        [--members 10000 100000] [--instruments 4] [--trades-per-member 4]

For each length, commits a trading chain (one 12-trade batch a block, a snapshot every
`--interval` blocks) into a SQLite store the way a node does, then times, with no
network between:

- serving: `SnapshotServer.get_offer` (its snapshot hashed) and every chunk read;
- joining: `check_offer` (the anchor walked, block and certificate checked, signed by
  three of the example genesis's four keys), `check_snapshot` (chunk hashes, decoding, root),
  `NodeStore.save_restored` into an empty store, and the node's start-up restore from it;
- replaying: the start-up restore of a store holding every block and no snapshot, what
  block sync from genesis costs a node beyond the network (about 7-8 ms a block);
- backfilling: the blocks below a restored snapshot checked against the chain above
  them (`check_backfilled`: hashes and each block's certificate, signed by the four
  keys) and stored (`NodeStore.save_backfilled`), 32 at a time, as a node's backfill
  does beyond the network;
- rebuilding the members' history below a snapshot at the chain's tip once backfill
  holds every block (`rebuild_history`: the niced replay process from genesis, the
  rows written).

Then, for each of `--members` (a large venue's state, whatever the chain's length: each
member with cash and `--trades-per-member` random trades among them on
`--instruments` perpetuals, cleared as blocks clear them), what a join costs beside the
network: `check_s` (every chunk hashed, the snapshot decoded, its root computed), `store_s`
(`NodeStore.save_restored`), `restore_s` (a restart's restore from that store; the
joining node itself starts from the state it checked),
and the memory a join holds at its peak (`join_peak_mb`, traced: the chunks as fetched,
the snapshot they make, the decoded state) beside the decoded state's own (`state_mb`).

One JSON line: per length, each time and the snapshot's size; per state, its size and
the join's times and memory.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench.ledger import build_batches, build_state, count_open_positions
from clearing.context import BlockContext
from clearing.genesis import Genesis
from clearing.state import ClearingState
from clearing.transition.root import compute_state_root
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearing.transition.trade import process_verified_trade_batch
from consensus.types import Block
from lightclient.anchor import Trust, get_consensus_chain_id
from node.clearing_app import ClearingApp
from node.history.replay import rebuild_history
from node.restore import restore_state
from node.served_snapshots import ServedSnapshots
from node.statesync.backfill import BATCH_BLOCKS, OUR_BLOCKS, check_backfilled
from node.statesync.records import CHUNK_BYTES, ChunkRequest
from node.statesync.serve import SnapshotServer
from node.statesync.verify import (
    check_offer,
    check_snapshot,
    check_snapshot_state,
    hash_chunks,
)
from node.storage import NodeStore, Snapshot, StoredBlock
from tests.lightclient.support import GENESIS_HASH
from tests.node.netsupport import make_block, write_trading_chain
from tests.node.statesync.support import GENESIS, build_chain, make_next_header, make_offer


def measure(tmp: Path, blocks: int, interval: int) -> dict[str, Any]:
    source, target = tmp / f"source-{blocks}.sqlite3", tmp / f"target-{blocks}.sqlite3"
    write_trading_chain(source, blocks + 1, interval)  # block H + 1 anchors snapshot H
    app = ClearingApp(GENESIS)
    with NodeStore(source) as store:
        restore_state(app, store)
        started = time.perf_counter()
        server = SnapshotServer(store, lambda: app.state, ServedSnapshots())
        offered = trio.run(server.get_offer)
        data = b"".join(
            server.get_chunk(ChunkRequest(offered.height, i)).data for i in range(offered.chunks)
        )
        serve_s = time.perf_counter() - started
        stored = store.load_block(offered.height)
        assert stored is not None, f"no snapshot at a multiple of {interval} up to {blocks}"
    block = Block.decode(stored.block)
    after = decode_snapshot(GENESIS, data)  # the state after H, whose root H + 1 names
    offer = make_offer(data, block, make_next_header(GENESIS, after, block))
    trust = Trust(GENESIS.genesis_time_ms + 60_000, GENESIS.genesis_time_ms)
    started = time.perf_counter()
    trusted = check_offer(offer, GENESIS, GENESIS_HASH, trust)
    check_snapshot(data, trusted, GENESIS)
    with NodeStore(target) as store:
        store.save_restored(
            Snapshot(offer.height, data, trusted.root),
            StoredBlock(offer.height, offer.block, offer.certificate, trusted.root), [],
        )  # fmt: skip
        restore_state(ClearingApp(GENESIS), store)
    join_s = time.perf_counter() - started
    with NodeStore(source) as store:
        store._db.execute("DELETE FROM snapshots")
    replay = ClearingApp(GENESIS)
    started = time.perf_counter()
    with NodeStore(source) as store:
        restore_state(replay, store)
    replay_s = time.perf_counter() - started
    backfill_s = measure_backfill(tmp, blocks)
    history_s = measure_history_rebuild(source, blocks + 1)
    return {
        "blocks": blocks + 1,
        "backfill_s": round(backfill_s, 3),
        "backfill_blocks_per_s": round((blocks - 1) / backfill_s),
        "history_rebuild_s": round(history_s, 3),
        "history_rebuild_blocks_per_s": round((blocks + 1) / history_s),
        "snapshot_height": offered.height,
        "snapshot_bytes": offered.size,
        "chunks": offered.chunks,
        "serve_s": round(serve_s, 4),
        "join_s": round(join_s, 4),
        "replay_from_genesis_s": round(replay_s, 3),
    }


def measure_backfill(tmp: Path, blocks: int) -> float:
    """Seconds to check and store the `blocks - 1` blocks below a restore at `blocks`."""
    chain = build_chain(blocks)
    top, root = chain.blocks[-1], chain.roots[-1]
    with NodeStore(tmp / f"backfill-{blocks}.sqlite3") as store:
        store.save_restored(
            Snapshot(blocks, encode_snapshot(chain.state), root),
            StoredBlock(blocks, top.block, top.certificate, root), [],
        )  # fmt: skip
        chain_id = get_consensus_chain_id(GENESIS.chain_id, GENESIS_HASH)
        started = time.perf_counter()
        while (first := store.first_height()) > 1:
            held = store.load_block(first)
            assert held is not None
            start = max(1, first - BATCH_BLOCKS)
            batch = tuple(chain.blocks[start - 1 : first - 1])
            above = OUR_BLOCKS.read_header(held)
            check = partial(OUR_BLOCKS.check_committed, chain.state, chain_id)
            store.save_backfilled(check_backfilled(batch, above, check))
        return time.perf_counter() - started


def measure_history_rebuild(path: Path, blocks: int) -> float:
    """Seconds to rebuild the members' history of `blocks` blocks (the store at `path`
    holds them from genesis) as if restored at its last one: the replay process's start,
    the replay from genesis, and the rows written."""
    with NodeStore(path) as store:
        store._db.execute("INSERT OR REPLACE INTO meta VALUES ('history_from', ?)", (blocks + 1,))
        started = time.perf_counter()
        trio.run(rebuild_history, store, GENESIS, 1)
        assert store.history_first_height() == 1
        return time.perf_counter() - started


MEMBER_CASH = 10**13
"""Each large state's member's cash: 10 million USD."""


def build_large_state(members: int, instruments: int, trades_per_member: int) -> ClearingState:
    """`members` members with `MEMBER_CASH`, in `trades_per_member` random trades each on average
    (two sides a trade), cleared in batches of 1,000 as blocks clear them."""
    state, addresses = build_state(members, instruments, True)
    for member in state.members.values():  # the ledger bench's cash, summed, passes a uint64
        member.sub_accounts[0].cash = MEMBER_CASH
    trades = members * trades_per_member // 2
    batches = build_batches(random.Random(members), addresses, instruments, trades, 1_000)
    context = BlockContext(1, state.time_ms + 1_000, state.chain_id)
    for batch in batches:
        process_verified_trade_batch(state, context, batch)
    state.height = 1
    return state


def measure_large_state(
    tmp: Path, members: int, instruments: int, trades_per_member: int
) -> dict[str, Any]:
    state = build_large_state(members, instruments, trades_per_member)
    genesis, height = state.genesis, state.height
    data, root = encode_snapshot(state), compute_state_root(state)
    started = time.perf_counter()
    chunk_hashes = hash_chunks(data)
    check_snapshot_state(genesis, height, data, root)
    check_s = time.perf_counter() - started
    block = make_block(genesis, height, []).encode()
    with NodeStore(tmp / f"large-{members}.sqlite3") as store:
        started = time.perf_counter()
        store.save_restored(Snapshot(height, data, root), StoredBlock(height, block, b"", root), [])
        store_s = time.perf_counter() - started
        started = time.perf_counter()
        restore_state(ClearingApp(genesis), store)
        restore_s = time.perf_counter() - started
    peak, held = trace_join(data, genesis, height, root)
    return {
        "members": members,
        "open_positions": count_open_positions(state),
        "snapshot_bytes": len(data),
        "chunks": len(chunk_hashes),
        "check_s": round(check_s, 3),
        "store_s": round(store_s, 3),
        "restore_s": round(restore_s, 3),
        "join_peak_mb": round(peak / 2**20, 1),
        "state_mb": round(held / 2**20, 1),
    }


def trace_join(data: bytes, genesis: Genesis, height: int, root: bytes) -> tuple[int, int]:
    """The traced bytes a join holds at its peak, as node/statesync/fetch.py holds them
    (the fetched chunks, joined, then decoded and checked), and those the decoded state
    alone holds after."""
    tracemalloc.start()
    try:
        chunks = [data[at : at + CHUNK_BYTES] for at in range(0, len(data), CHUNK_BYTES)]
        joined = b"".join(chunks)
        state = check_snapshot_state(genesis, height, joined, root)
        peak = tracemalloc.get_traced_memory()[1]
        del chunks, joined
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert state.height == height
    return peak, held


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench statesync", description=__doc__)
    parser.add_argument("--blocks", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--interval", type=int, default=100)
    parser.add_argument("--members", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--instruments", type=int, default=4)
    parser.add_argument("--trades-per-member", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [measure(Path(tmp), blocks, args.interval) for blocks in args.blocks]
        states = [
            measure_large_state(Path(tmp), members, args.instruments, args.trades_per_member)
            for members in args.members
        ]
    return {
        "chunk_bytes": CHUNK_BYTES,
        "snapshot_interval": args.interval,
        "runs": runs,
        "large_states": states,
    }
