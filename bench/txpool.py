"""Recorded admission: what writing each admitted batch to SQLite (fsynced) costs.

Real venue trade batches (`--batch` trades each) are admitted by the node's
mempool check against a sandbox state, three ways: into the in-memory mempool
only (`memory_batches_per_s`, the cost without any record); through `TxPool.add`
one at a time, so every batch waits for its own write and fsync
(`serial_batches_per_s`, `serial_add_ms_p50`); and through `TxPool.add` from
`--submitters` concurrent tasks, as concurrent HTTP requests arrive, where one
write records every batch queued during the previous one
(`concurrent_batches_per_s`, `concurrent_writes`: fsyncs for `--batches`).
The SQLite file is on the temp directory's disk.

    python -m bench txpool [--batches 400] [--batch 250] [--submitters 16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio

from bench.network import Load
from node.mempool import Mempool
from node.storage import NodeStore
from node.txcheck import make_clearing_check
from node.txpool import TxPool


class CountingStore(NodeStore):
    writes = 0

    def write_pending_txs(self, changes: Sequence[tuple[bytes, bytes | None]]) -> None:
        self.writes += 1
        super().write_pending_txs(changes)


def open_pool(load: Load, path: Path) -> tuple[TxPool, CountingStore]:
    store = CountingStore(path)
    mempool = Mempool(make_clearing_check(lambda: load.box.state), max_txs=1 << 20)
    return TxPool(mempool, store), store


async def measure(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    load = Load(args.batch)
    batches = [[load.next_batch() for _ in range(args.batches)] for _ in range(3)]

    started = time.perf_counter()
    memory = Mempool(make_clearing_check(lambda: load.box.state), max_txs=1 << 20)
    for tx in batches[0]:
        memory.add(tx)
    memory_s = time.perf_counter() - started

    pool, store = open_pool(load, base / "serial.sqlite3")
    latencies = []
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        started = time.perf_counter()
        for tx in batches[1]:
            before = time.perf_counter()
            await pool.add(tx)
            latencies.append(time.perf_counter() - before)
        serial_s = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    store.close()

    pool, store = open_pool(load, base / "concurrent.sqlite3")
    queue = iter(batches[2])

    async def submitter() -> None:
        for tx in queue:
            await pool.add(tx)

    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        started = time.perf_counter()
        async with trio.open_nursery() as submitters:
            for _ in range(args.submitters):
                submitters.start_soon(submitter)
        concurrent_s = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    store.close()
    return {
        "batches": args.batches,
        "batch_trades": args.batch,
        "submitters": args.submitters,
        "memory_batches_per_s": round(args.batches / memory_s, 1),
        "serial_batches_per_s": round(args.batches / serial_s, 1),
        "serial_add_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "concurrent_batches_per_s": round(args.batches / concurrent_s, 1),
        "concurrent_writes": store.writes,
    }


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench txpool")
    parser.add_argument("--batches", type=int, default=400, help="batches per way")
    parser.add_argument("--batch", type=int, default=250, help="trades per batch")
    parser.add_argument("--submitters", type=int, default=16, help="concurrent submitters")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return trio.run(measure, args, Path(tmp))
