"""Deposit events observed, finality-checked, decoded and stored per second, one anvil chain.

`python -m bench bridge [--events N] [--per-block K]` creates N native deposits
(K per block) on a fresh anvil, mines past anvil's `finalized` tag, then times a
Watcher catching up from block 0 to the final head.

How the watcher is fast and still reorg-safe: it never fetches a receipt per
deposit. Each step reads one block range with a single `eth_getLogs` (the batch
size adapts to the log count), then fetches the canonical header of every block
that holds a log in ONE batched JSON-RPC request and requires each log's blockHash
to equal the canonical hash at its (final) height. A log in the canonical block at
a final height cannot be orphaned, and a log exists only for a successful
transaction, so this per-block check proves what a receipt re-fetch would (block
hash and status) at the cost of one header per block instead of one receipt per
deposit. Any mismatch aborts the range before the cursor moves.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import trio

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import account_from_key, connect
from bridge.cursor import CursorStore
from bridge.devchain import finalize, send_native_deposits
from bridge.validators import EvmValidatorSet
from bridge.vault import deploy_vault, get_vault_address
from bridge.watcher import Watcher, WatcherConfig


async def catch_up(watcher: Watcher) -> None:
    await watcher.connect()
    while await watcher.step():
        pass


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench bridge")
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--per-block", type=int, default=250)
    parser.add_argument("--verify-receipts", action="store_true", help="also re-fetch receipts")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, AnvilNode(chain_id=31_999) as node:
        chain = connect(node.url, node.chain_id)
        validators = EvmValidatorSet.from_members(0, [(b"\x01" * 20, 1)])
        vault = deploy_vault(chain, validators, account_from_key(DEV_PRIVATE_KEY))
        members = [(i % 65_536).to_bytes(20, "big") for i in range(args.events)]
        setup_start = time.perf_counter()
        send_native_deposits(chain, vault, members, per_block=args.per_block)
        finalize(chain)
        setup_s = time.perf_counter() - setup_start
        store = CursorStore(Path(tmp) / "cursor.sqlite")
        config = WatcherConfig(
            chain_id=node.chain_id,
            url=node.url,
            vault=get_vault_address(vault),
            verify_receipts=args.verify_receipts,
        )
        watcher = Watcher(config, store)
        start = time.perf_counter()
        trio.run(catch_up, watcher)
        elapsed = time.perf_counter() - start
        observed = store.count_deposits(node.chain_id)
        store.close()
    if observed != args.events:
        raise RuntimeError(f"observed {observed} deposits, created {args.events}")
    return {
        "events_per_s": round(observed / elapsed),
        "events": observed,
        "per_block": args.per_block,
        "verify_receipts": args.verify_receipts,
        "seconds": round(elapsed, 3),
        "setup_seconds": round(setup_s, 1),
        "final_batch_blocks": watcher.batch_blocks,
    }
