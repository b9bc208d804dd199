"""State sync's cost against the chain's length, beside replaying the chain from genesis.

`python -m bench statesync [--blocks 200 2000] [--interval 100]`: for each length,
commits a trading chain (one 12-trade batch a block, a snapshot every `--interval`
blocks) into a SQLite store the way a node does, then times, with no network between:

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

One JSON line: per length, each time and the snapshot's size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import trio

from clearing.snapshot import decode_snapshot, encode_snapshot
from consensus.types import Block
from lightclient.anchor import Trust, get_consensus_chain_id
from node.clearing_app import ClearingApp
from node.history.replay import rebuild_history
from node.restore import restore_state
from node.statesync.backfill import BATCH_BLOCKS, OUR_BLOCKS, check_backfilled
from node.statesync.records import CHUNK_BYTES, ChunkRequest
from node.statesync.serve import SnapshotServer
from node.statesync.served import ServedSnapshots
from node.statesync.verify import check_offer, check_snapshot
from node.storage import NodeStore, Snapshot, StoredBlock
from tests.lightclient.support import GENESIS_HASH
from tests.node.netsupport import write_trading_chain
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


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench statesync", description=__doc__)
    parser.add_argument("--blocks", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--interval", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [measure(Path(tmp), blocks, args.interval) for blocks in args.blocks]
    return {"chunk_bytes": CHUNK_BYTES, "snapshot_interval": args.interval, "runs": runs}
