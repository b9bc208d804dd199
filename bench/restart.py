"""Node restart time: newest state snapshot + later blocks, versus every block from genesis.

`python -m bench restart [--blocks 2050] [--interval 100]` commits a trading chain
(one 12-trade batch per block) into a SQLite store the way a node does (snapshot
every `--interval` blocks, in the block's transaction), then times
`node.restore.restore_state` on it, and again after deleting the snapshots.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from node.clearing_app import ClearingApp
from node.restore import restore_state
from node.storage import NodeStore
from tests.node.netsupport import example_genesis, write_trading_chain


def time_restore(path: Path, expected_root: bytes) -> tuple[float, int]:
    """Seconds to restore, and how many blocks were re-applied."""
    app = ClearingApp(example_genesis())
    with NodeStore(path) as store:
        start = time.perf_counter()
        rebuilt = restore_state(app, store)
        elapsed = time.perf_counter() - start
    assert app.last_root == expected_root, "restored state differs from the committed one"
    return elapsed, rebuilt.height - rebuilt.snapshot_height


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench restart", description=__doc__)
    parser.add_argument("--blocks", type=int, default=2050)
    parser.add_argument("--interval", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "node.sqlite3"
        start = time.perf_counter()
        roots = write_trading_chain(path, args.blocks, args.interval)
        commit_s = time.perf_counter() - start
        with_snapshot, replayed = time_restore(path, roots[-1])
        size = path.stat().st_size
        with NodeStore(path) as store:
            store._db.execute("DELETE FROM snapshots")
        from_genesis, _ = time_restore(path, roots[-1])
    return {
        "blocks": args.blocks,
        "trades": 12 * (args.blocks - 1),
        "snapshot_interval": args.interval,
        "commit_s": round(commit_s, 3),
        "restart_s_with_snapshot": round(with_snapshot, 4),
        "blocks_replayed_with_snapshot": replayed,
        "restart_s_from_genesis": round(from_genesis, 3),
        "speedup": round(from_genesis / with_snapshot, 1),
        "db_bytes": size,
    }
