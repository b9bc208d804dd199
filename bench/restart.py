"""Node restart time: newest state snapshot + later blocks, versus every block from genesis;
and our engine's validator sets, walked from genesis versus from its checkpoint.

`python -m bench restart [--blocks 2050] [--interval 100] [--set-heights 200000]
[--validators 4]` commits a trading chain (one 12-trade batch per block) into a SQLite
store the way a node does (snapshot every `--interval` blocks, in the block's
transaction), then times `node.restore.restore_state` on it, and again after deleting
the snapshots. It then times the sets a restart at height `--set-heights` asks for
(`consensus/validator_sets.py`), walked from genesis and from the checkpoint the engine
would hold, and gives the walk's cost for a year of blocks at one a second.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from consensus.sim.simulator import make_key
from consensus.types import ValidatorSet, Voter
from consensus.validator_sets import CHECKPOINT_INTERVAL, ValidatorCheckpoint, ValidatorSets
from node.clearing_app import ClearingApp
from node.restore import restore_state
from node.storage import NodeStore
from records.codec import MAX_EVIDENCE_AGE_BLOCKS
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


SECONDS_PER_YEAR = 365 * 24 * 3600


def time_validator_sets(heights: int, validators: int) -> dict[str, Any]:
    """The sets a restart after block `heights` asks for (its window and the next
    height's), walked from genesis and from the latest checkpoint the engine stores."""
    voters = tuple(Voter(f"v{i}", make_key(i).public_key, 1 + i) for i in range(validators))
    first_asked = heights + 1 - MAX_EVIDENCE_AGE_BLOCKS
    checkpoint_height = first_asked - (first_asked - 1) % CHECKPOINT_INTERVAL
    start = time.perf_counter()
    walked = ValidatorSets(ValidatorSet.from_validators(voters), lambda height: None)
    checkpoint = ValidatorCheckpoint(checkpoint_height, walked.get(checkpoint_height))
    window = [walked.get(h) for h in range(first_asked, heights + 3)]
    from_genesis = time.perf_counter() - start
    start = time.perf_counter()
    restored = ValidatorCheckpoint.decode(checkpoint.encode())
    sets = ValidatorSets(restored.validator_set, lambda height: None, first_height=restored.height)
    resumed = [sets.get(h) for h in range(first_asked, heights + 3)]
    from_checkpoint = time.perf_counter() - start
    assert resumed == window, "the checkpoint's walk differs from the walk from genesis"
    per_height = from_genesis / (heights + 2)
    return {
        "validator_sets_heights": heights,
        "validator_sets_validators": validators,
        "validator_sets_us_per_height": round(per_height * 1e6, 2),
        "validator_sets_s_from_genesis": round(from_genesis, 3),
        "validator_sets_ms_from_checkpoint": round(from_checkpoint * 1e3, 2),
        "validator_sets_s_per_year_from_genesis": round(per_height * SECONDS_PER_YEAR, 1),
    }


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench restart", description=__doc__)
    parser.add_argument("--blocks", type=int, default=2050)
    parser.add_argument("--interval", type=int, default=100)
    parser.add_argument("--set-heights", type=int, default=200_000)
    parser.add_argument("--validators", type=int, default=4)
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
        **time_validator_sets(args.set_heights, args.validators),
    }
