"""Member history store: can SQLite hold a year of fills?

`python -m bench history [--blocks 1000] [--trades-per-block 200] [--members 1000]`
saves `--blocks` blocks into a node's SQLite store the way the node does (the block and
its history rows in one transaction, synchronous=FULL), each with `--trades-per-block`
cleared trades between random members, indexed by `node.history.indexer` from a real
trade batch (two fill rows per trade). It reports:

- `fills_per_s`: fill rows written per second, block commit and fsync included;
- `query_ms_p50` / `query_ms_p99`: one page (500 rows) of one member's history, first
  page or after a random cursor;
- `bytes_per_million_fills`: the database's growth per million fill rows (the blocks
  saved are empty, so this is the history's index and rows alone);
- the year at `--throughput` trades/s (default 3,000: the peak that `python -m bench
  network` offers and docs/venue.md's sizing of one venue), two fills per trade: rows,
  bytes, the insert rate it needs against `fills_per_s`, and `sqlite_holds_a_year`
  (the rate is met and the file stays under `--disk-tb`, default 16 TB of one volume).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from clearing.events import make_event
from clearing.transition.block import BlockResult, TxResult
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from node.api.member_history import PAGE_EVENTS
from node.history.indexer import get_block_history
from node.storage import NodeStore

SECONDS_PER_YEAR = 365 * 24 * 3600
BATCH_TIMES = (1_795_219_380_000, 1_795_219_500_000)  # issued, expires: only stored, never checked


def make_block_history(rng: random.Random, height: int, members: list[bytes], trades: int) -> Any:
    batch = tuple(
        Trade(height * trades + i, "BTC-PERP", rng.choice(members), 0,
              rng.choice(members), 0, 60_000_000 + rng.randrange(1000), rng.randrange(1, 50))
        for i in range(trades)
    )  # fmt: skip
    venue = derive_ed25519_key("venue-alpha")
    raw = encode_tx(sign_trade_batch(venue, 1, "alpha", height, batch, *BATCH_TIMES))
    counts = make_event("trade_batch", venue="alpha", batch_id=height, cleared=trades, rejected=0)
    result = BlockResult(height, (TxResult("ok", "", (counts,)),), (), bytes(32))
    return get_block_history([raw], result)


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench history", description=__doc__)
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--trades-per-block", type=int, default=200)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--throughput", type=int, default=3000, help="network trades/s")
    parser.add_argument("--disk-tb", type=float, default=16.0)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    rng = random.Random(7)
    members = [rng.randbytes(20) for _ in range(args.members)]
    histories = [
        make_block_history(rng, h, members, args.trades_per_block)
        for h in range(1, args.blocks + 1)
    ]
    fills = sum(len(h.rows) for h in histories)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "node.sqlite3"
        with NodeStore(path) as store:
            empty = store_bytes(store, path)
            start = time.perf_counter()
            for history in histories:
                store.save_block(history.height, b"", b"", bytes(32), history=history)
            insert_s = time.perf_counter() - start
            grown = store_bytes(store, path) - empty
            latencies = []
            for _ in range(args.queries):
                member = rng.choice(members)
                after = rng.choice([None, (rng.randrange(1, args.blocks), 0)])
                begin = time.perf_counter()
                store.read_history(member, after, PAGE_EVENTS)
                latencies.append((time.perf_counter() - begin) * 1000)
    fills_per_s = fills / insert_s
    bytes_per_million = grown * 1_000_000 / fills
    year_fills = 2 * args.throughput * SECONDS_PER_YEAR
    year_bytes = year_fills * bytes_per_million / 1_000_000
    needed_per_s = 2 * args.throughput
    return {
        "blocks": args.blocks,
        "fills": fills,
        "members": args.members,
        "fills_per_s": round(fills_per_s),
        "query_ms_p50": round(statistics.median(latencies), 3),
        "query_ms_p99": round(statistics.quantiles(latencies, n=100)[98], 3),
        "bytes_per_million_fills": round(bytes_per_million),
        "assumed_trades_per_s": args.throughput,
        "year_fills": year_fills,
        "year_tb": round(year_bytes / 1e12, 2),
        "needed_fills_per_s": needed_per_s,
        "insert_headroom": round(fills_per_s / needed_per_s, 2),
        "sqlite_holds_a_year": fills_per_s >= needed_per_s and year_bytes <= args.disk_tb * 1e12,
    }


def store_bytes(store: NodeStore, path: Path) -> int:
    """The database's bytes with the WAL folded in."""
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(path)
